// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ILedgerHooks} from "./interfaces/ILedgerHooks.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";

/// @title Ledger
/// @notice Escrow, license lanes, EIP-712 vouchers, one-transaction settlement of a run across every
/// model and every ancestor, flat-fee periods, and pull payouts. Not upgradeable.
/// @dev Money is conserved: every unit deposited is in exactly one of a payer's escrow, an open lane
/// (cap - claimed), an asset's credit, a payee's balance, or withdrawn.
///
/// A lane's id is the hash of its immutable key (payer, token, model, terms version, lineage hash,
/// sequence); its mutable state (cap, claimed, expiry, closed) is one packed slot. Settlement recomputes
/// the id from calldata, so a wrong model, payer, token or ancestor vector simply names no lane.
///
/// Packed lane entry in `settle` / `redeem` / `redeemWithProofs` calldata (33 + 10n bytes):
///   uint64 modelId | uint32 termsVersion | uint64 seq | uint96 cumulative | uint8 n | n x (uint64 id, uint16 bps)
/// Packed proof record in `redeemWithProofs` calldata (1 + 32n bytes), one per lane entry, in lane order:
///   uint8 n | n x bytes32 sibling
/// Packed attribution in the `Settled` event (20 bytes per lane or flat-fee purchase):
///   uint64 modelId | uint96 amount charged
/// Each ancestor of the model was credited floor(amount x bps / 10 000) and the model the rest, by the
/// model's immutable lineage (`ModelRegistry.lineageOf`), so indexers rebuild every credit exactly.
contract Ledger is ILedgerHooks, EIP712, Ownable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 public constant BPS = 10_000;
    uint256 public constant MAX_TOKENS = 8;
    uint256 public constant MAX_LANES = 64;
    uint256 public constant MAX_ANCESTORS = 32;

    bytes32 public constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 laneId,uint256 cumulative)");
    bytes32 public constant VOUCHERS_TYPEHASH = keccak256("Vouchers(bytes32 root)");

    uint256 internal constant MASK_96 = (1 << 96) - 1;
    uint256 internal constant MASK_128 = (1 << 128) - 1;
    uint256 internal constant CLOSED = 1 << 232;

    /// @notice The immutable key of a lane.
    struct LaneKey {
        address payer;
        address token;
        uint64 modelId;
        uint32 termsVersion;
        bytes32 lineageHash;
        uint64 seq;
    }

    /// @notice The mutable state of a lane.
    struct LaneState {
        uint96 cap;
        uint96 claimed;
        uint40 expiresAt;
        bool closed;
    }

    IModelRegistry public immutable registry;
    /// @notice Seconds after a lane's expiry during which its vouchers can still be redeemed; only after
    /// them may the payer reclaim what was never claimed.
    uint256 public immutable reclaimDelay;

    address[] internal _tokens;
    mapping(address token => bool) public tokenAllowed;
    mapping(address token => bool) public tokenListed;
    mapping(address token => mapping(address payer => uint256)) public escrowOf;
    /// @dev Lane state lives at storage slot `laneId` itself and credits at `creditBase(token) + (assetId >> 1)`:
    /// both are keccak-derived like mapping slots (a collision needs a keccak collision), and settlement
    /// saves one keccak per lane and per credit. Two credits per slot (asset ids 2k and 2k+1), each
    /// stored as amount + 1 once seeded.
    bytes32 internal constant CREDITS_SEED = keccak256("tributary.ledger.credits");
    mapping(address token => mapping(address payee => uint256)) public balanceOf;
    /// @notice Receipt roots already settled, per payer: keyed by payer so no one can burn another
    /// payer's root by settling an empty run under it first.
    mapping(address payer => mapping(bytes32 receiptRoot => bool)) public rootSettled;
    mapping(address payer => mapping(uint256 assetId => uint256)) public periodEnd;
    uint64 public laneCount;

    event TokenAllowed(address indexed token, bool allowed);
    event Deposited(address indexed payer, address indexed token, uint256 amount);
    event EscrowWithdrawn(address indexed payer, address indexed token, uint256 amount);
    event LaneOpened(
        bytes32 indexed laneId,
        address indexed payer,
        uint256 indexed modelId,
        address token,
        uint32 termsVersion,
        bytes32 lineageHash,
        uint64 seq,
        uint96 cap,
        uint40 expiresAt
    );
    event LaneToppedUp(bytes32 indexed laneId, uint96 cap, uint40 expiresAt);
    event LaneReclaimed(bytes32 indexed laneId, address indexed payer, uint256 refund);
    event Settled(
        bytes32 indexed receiptRoot, address indexed payer, address indexed token, uint256 total, bytes attribution
    );
    event PeriodPurchased(
        address indexed payer, uint256 indexed assetId, address token, uint256 fee, uint32 termsVersion, uint256 periodEnd
    );
    event Distributed(uint256 indexed assetId, address indexed token, uint256 amount);
    event Withdrawn(address indexed payee, address indexed token, address to, uint256 amount);

    error TokenNotAllowed(address token);
    error TooManyTokens(uint256 max);
    error FeeOnTransferToken(address token, uint256 expected, uint256 received);
    error ZeroAmount();
    error InsufficientEscrow(address token, uint256 available, uint256 needed);
    error NotRegistry(address caller);
    error UnknownModel(uint256 modelId);
    error PriceAboveMax(uint256 modelId, uint96 pricePerCall, uint96 maxPricePerCall);
    error ExpiryInPast(uint40 expiresAt);
    error AmountTooLarge(uint256 amount);
    error UnknownLane(bytes32 laneId);
    error NotLanePayer(bytes32 laneId, address caller);
    error LaneClosed(bytes32 laneId);
    error LaneExpired(bytes32 laneId, uint40 expiresAt);
    error LaneNotReclaimable(bytes32 laneId, uint256 reclaimableAt);
    error LaneOverdrawn(bytes32 laneId, uint256 cumulative, uint96 cap);
    error VoucherNotNewer(bytes32 laneId, uint256 cumulative, uint96 claimed);
    error InvalidVoucherSignature(bytes32 laneId);
    error MissingSignatures(uint256 lanes, uint256 signatures);
    error MalformedLanes(uint256 offset);
    /// @notice The proof record at `offset` is cut short, or bytes are left over after the last lane's record.
    error MalformedProofs(uint256 offset);
    error TooManyLanes(uint256 count, uint256 max);
    error TooManyAncestors(uint256 count, uint256 max);
    error ZeroReceiptRoot();
    error RootAlreadySettled(bytes32 receiptRoot);
    error TotalMismatch(uint256 declared, uint256 computed);
    error NoFlatFee(uint256 assetId);
    error FeeAboveMax(uint256 assetId, uint96 fee, uint96 maxFee);
    error NothingToDistribute(uint256 assetId, address token);
    error NothingToWithdraw(address token);

    modifier onlyRegistry() {
        if (msg.sender != address(registry)) revert NotRegistry(msg.sender);
        _;
    }

    constructor(IModelRegistry registry_, uint256 reclaimDelay_, address initialOwner)
        EIP712("tributary", "1")
        Ownable(initialOwner)
    {
        registry = registry_;
        reclaimDelay = reclaimDelay_;
    }

    // ------------------------------------------------------------------------------------------ admin

    /// @notice Allows or disallows a token for new deposits, licenses and terms. Withdrawals are never blocked.
    function setTokenAllowed(address token, bool allowed) external onlyOwner {
        if (!tokenListed[token]) {
            if (_tokens.length == MAX_TOKENS) revert TooManyTokens(MAX_TOKENS);
            tokenListed[token] = true;
            _tokens.push(token);
        }
        tokenAllowed[token] = allowed;
        emit TokenAllowed(token, allowed);
    }

    /// @notice Every token ever allowed (at most 8).
    function tokens() external view returns (address[] memory) {
        return _tokens;
    }

    // ----------------------------------------------------------------------------------------- escrow

    /// @notice Deposits `amount` of an allowed token into the caller's escrow. A token that delivers
    /// less than `amount` (fee on transfer) is refused.
    function deposit(address token, uint256 amount) external nonReentrant {
        _deposit(token, msg.sender, amount);
    }

    /// @notice Withdraws from the caller's escrow (never from an open lane).
    function withdrawEscrow(address token, uint256 amount) external nonReentrant {
        uint256 available = escrowOf[token][msg.sender];
        if (amount == 0) revert ZeroAmount();
        if (amount > available) revert InsufficientEscrow(token, available, amount);
        escrowOf[token][msg.sender] = available - amount;
        emit EscrowWithdrawn(msg.sender, token, amount);
        IERC20(token).safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------------------------------ lanes

    /// @notice Opens a license lane on `modelId`: locks `cap` from the caller's escrow (after depositing
    /// `depositAmount` if non-zero) until `expiresAt`, bound to the model's current terms version.
    /// @param maxPricePerCall refuses the lane if the price was raised above this (front-running guard)
    function openLicense(uint256 modelId, uint96 cap, uint40 expiresAt, uint96 maxPricePerCall, uint256 depositAmount)
        external
        nonReentrant
        returns (bytes32 laneId)
    {
        if (cap == 0) revert ZeroAmount();
        if (expiresAt <= block.timestamp) revert ExpiryInPast(expiresAt);
        if (modelId > type(uint64).max || !registry.exists(modelId)) revert UnknownModel(modelId);
        (address token, uint96 price, uint32 termsVersion, bytes32 lineageHash) = registry.licenseInfo(modelId);
        if (token == address(0) || !tokenAllowed[token]) revert TokenNotAllowed(token);
        if (price > maxPricePerCall) revert PriceAboveMax(modelId, price, maxPricePerCall);
        if (depositAmount > 0) _deposit(token, msg.sender, depositAmount);
        _takeEscrow(token, msg.sender, cap);
        laneId = _openLane(token, modelId, termsVersion, lineageHash, cap, expiresAt);
    }

    function _openLane(
        address token,
        uint256 modelId,
        uint32 termsVersion,
        bytes32 lineageHash,
        uint96 cap,
        uint40 expiresAt
    ) internal returns (bytes32 laneId) {
        uint64 seq = ++laneCount;
        laneId = _laneId(msg.sender, token, uint64(modelId), termsVersion, lineageHash, seq);
        _storeLane(laneId, _packLane(cap, 0, expiresAt, false));
        emit LaneOpened(laneId, msg.sender, modelId, token, termsVersion, lineageHash, seq, cap, expiresAt);
    }

    /// @notice Adds `addCap` to a lane from escrow (after depositing `depositAmount`) and/or moves its
    /// expiry later. Only the payer; only while the lane has not expired.
    function topUpLicense(LaneKey calldata key, uint96 addCap, uint40 newExpiresAt, uint256 depositAmount)
        external
        nonReentrant
    {
        bytes32 laneId = laneIdOf(key);
        if (msg.sender != key.payer) revert NotLanePayer(laneId, msg.sender);
        LaneState memory s = _loadLane(laneId);
        if (s.closed) revert LaneClosed(laneId);
        if (block.timestamp >= s.expiresAt) revert LaneExpired(laneId, s.expiresAt);
        if (depositAmount > 0) _deposit(key.token, msg.sender, depositAmount);
        if (addCap > 0) {
            uint256 cap = uint256(s.cap) + addCap;
            if (cap > MASK_96) revert AmountTooLarge(cap);
            _takeEscrow(key.token, msg.sender, addCap);
            s.cap = uint96(cap);
        }
        if (newExpiresAt > s.expiresAt) s.expiresAt = newExpiresAt;
        _storeLane(laneId, _packLane(s.cap, s.claimed, s.expiresAt, false));
        emit LaneToppedUp(laneId, s.cap, s.expiresAt);
    }

    /// @notice After expiry plus `reclaimDelay`, returns what was never claimed to the payer's escrow and
    /// closes the lane. Anyone may call it; the refund always goes to the payer.
    function reclaim(LaneKey calldata key) external nonReentrant returns (uint256 refund) {
        bytes32 laneId = laneIdOf(key);
        LaneState memory s = _loadLane(laneId);
        if (s.closed) revert LaneClosed(laneId);
        uint256 reclaimableAt = uint256(s.expiresAt) + reclaimDelay;
        if (block.timestamp < reclaimableAt) revert LaneNotReclaimable(laneId, reclaimableAt);
        refund = s.cap - s.claimed;
        _storeLane(laneId, _packLane(s.claimed, s.claimed, s.expiresAt, true));
        escrowOf[key.token][key.payer] += refund;
        emit LaneReclaimed(laneId, key.payer, refund);
    }

    /// @notice The id of the lane with this key.
    function laneIdOf(LaneKey calldata key) public pure returns (bytes32) {
        return _laneId(key.payer, key.token, key.modelId, key.termsVersion, key.lineageHash, key.seq);
    }

    /// @notice The state of a lane (all zero when it does not exist).
    function laneState(bytes32 laneId) external view returns (LaneState memory) {
        uint256 w = _laneWord(laneId);
        return LaneState(uint96(w), uint96(w >> 96), uint40(w >> 192), w & CLOSED != 0);
    }

    /// @notice The EIP-712 digest a payer signs for a voucher.
    function voucherDigest(bytes32 laneId, uint256 cumulative) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, laneId, cumulative)));
    }

    /// @notice The EIP-712 digest a payer signs once for a batch of vouchers: `root` is the sorted-pair
    /// keccak256 Merkle root (OpenZeppelin `MerkleProof`) of the vouchers' struct hashes
    /// keccak256(abi.encode(VOUCHER_TYPEHASH, laneId, cumulative)).
    function vouchersDigest(bytes32 root) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHERS_TYPEHASH, root)));
    }

    // ------------------------------------------------------------------------------------- settlement

    /// @notice Settles a run in one transaction: brings every lane it used up to the cumulative amount
    /// now owed, credits every model and every ancestor's share, and records the receipt root once per payer.
    /// @param payer whose lanes are charged; when the caller is not the payer, `signatures` must hold one
    /// 65-byte voucher signature of the payer per lane
    /// @param total must equal the sum of what the lanes move, to the unit
    /// @param lanes packed lane entries (see the contract notes)
    function settle(
        address payer,
        address token,
        uint256 total,
        bytes32 receiptRoot,
        bytes calldata lanes,
        bytes calldata signatures
    ) external nonReentrant {
        if (receiptRoot == bytes32(0)) revert ZeroReceiptRoot();
        // anyone but the payer records a payer's root only by moving at least one lane with its voucher
        if (lanes.length == 0 && msg.sender != payer) revert MalformedLanes(0);
        if (rootSettled[payer][receiptRoot]) revert RootAlreadySettled(receiptRoot);
        rootSettled[payer][receiptRoot] = true;
        (uint256 computed, bytes memory attribution) = _apply(payer, token, lanes, signatures);
        if (computed != total) revert TotalMismatch(total, computed);
        emit Settled(receiptRoot, payer, token, computed, attribution);
    }

    /// @notice Redeems vouchers without a run: what a provider calls alone, at any time, with the
    /// payer's newest signed voucher per lane. Same packed entries as `settle`.
    function redeem(address payer, address token, bytes calldata lanes, bytes calldata signatures)
        external
        nonReentrant
        returns (uint256 total)
    {
        bytes memory attribution;
        (total, attribution) = _apply(payer, token, lanes, signatures);
        _emitRedeemed(payer, token, total, attribution);
    }

    /// @notice `redeem` for vouchers the payer signed in batches: each lane's signature is either a plain
    /// voucher signature or a signature of `vouchersDigest(root)`, with the voucher's Merkle proof to `root`.
    /// @param signatures one 65-byte signature of the payer per lane (none when the caller is the payer);
    /// a batch's one signature repeats for every lane of the batch
    /// @param proofs one packed proof record per lane, in lane order (see the contract notes), consumed
    /// exactly: n == 0 means the lane's signature is a plain voucher signature; otherwise the n siblings lead
    /// from the voucher's struct hash to the signed root. Empty means every signature is plain, as in `redeem`;
    /// ignored when the caller is the payer.
    function redeemWithProofs(
        address payer,
        address token,
        bytes calldata lanes,
        bytes calldata signatures,
        bytes calldata proofs
    ) external nonReentrant returns (uint256 total) {
        if (msg.sender != payer) _checkVouchers(payer, token, lanes, signatures, proofs);
        // `_apply` with proofs, written out rather than shared: an extra parameter there costs `settle` and
        // `redeem` gas on every call
        uint256[4] memory failure;
        uint256 count;
        bytes memory attribution;
        (total, count, attribution) = _applyPacked(payer, token, lanes, failure);
        if (failure[0] != 0) _revertLane(failure);
        if (count > MAX_LANES) revert TooManyLanes(count, MAX_LANES);
        _emitRedeemed(payer, token, total, attribution);
    }

    /// @dev The `Settled` event of a redemption (no receipt root), shared by both redeem paths: a third
    /// inline emit of this event makes the optimizer stop inlining its encoding in `settle`, which then
    /// costs every settlement gas.
    function _emitRedeemed(address payer, address token, uint256 total, bytes memory attribution) internal {
        emit Settled(bytes32(0), payer, token, total, attribution);
    }

    // --------------------------------------------------------------------------------------- flat fee

    /// @notice Buys (or extends) a flat-fee period on an asset, paid from escrow (after depositing
    /// `depositAmount`) and credited at once with the same lineage split as per-call revenue.
    function buyPeriod(uint256 assetId, uint96 maxFee, uint256 depositAmount)
        external
        nonReentrant
        returns (uint256 end)
    {
        if (!registry.exists(assetId)) revert UnknownModel(assetId);
        (address token, uint96 fee, uint32 period, uint32 termsVersion, bytes memory lineage) =
            registry.flatFeeInfo(assetId);
        if (fee == 0) revert NoFlatFee(assetId);
        if (fee > maxFee) revert FeeAboveMax(assetId, fee, maxFee);
        if (!tokenAllowed[token]) revert TokenNotAllowed(token);
        if (depositAmount > 0) _deposit(token, msg.sender, depositAmount);
        _takeEscrow(token, msg.sender, fee);

        _creditSplit(token, assetId, fee, lineage);

        uint256 start = periodEnd[msg.sender][assetId];
        if (start < block.timestamp) start = block.timestamp;
        end = start + period;
        periodEnd[msg.sender][assetId] = end;
        emit PeriodPurchased(msg.sender, assetId, token, fee, termsVersion, end);
        emit Settled(bytes32(0), msg.sender, token, fee, abi.encodePacked(uint64(assetId), uint96(fee)));
    }

    // ---------------------------------------------------------------------------------------- payouts

    /// @notice What `assetId` has been credited in `token` and not yet distributed.
    function creditOf(address token, uint256 assetId) public view returns (uint256) {
        (, uint256 w) = _creditWord(token, assetId);
        uint256 half = (w >> ((assetId & 1) * 128)) & MASK_128;
        return half == 0 ? 0 : half - 1;
    }

    /// @notice Moves an asset's credited balance to its payees' withdrawable balances. Anyone may call
    /// it. Each payee gets floor(amount x share / 10 000); the first payee also gets the remainder.
    function distribute(uint256 assetId, address token) external nonReentrant returns (uint256 amount) {
        amount = _distribute(assetId, token);
        if (amount == 0) revert NothingToDistribute(assetId, token);
    }

    /// @notice Withdraws the caller's whole payee balance in `token` to `to`.
    function withdraw(address token, address to) external nonReentrant returns (uint256 amount) {
        amount = balanceOf[token][msg.sender];
        if (amount == 0) revert NothingToWithdraw(token);
        balanceOf[token][msg.sender] = 0;
        emit Withdrawn(msg.sender, token, to, amount);
        IERC20(token).safeTransfer(to, amount);
    }

    // ---------------------------------------------------------------------------------- registry hooks

    /// @inheritdoc ILedgerHooks
    function seedCredits(address token, uint256 assetId, bytes calldata lineage) external onlyRegistry {
        _seed(token, assetId);
        uint256 n = lineage.length / 10;
        for (uint256 i; i < n; ++i) {
            _seed(token, uint64(bytes8(lineage[i * 10:i * 10 + 8])));
        }
    }

    /// @inheritdoc ILedgerHooks
    function flushCredits(uint256 assetId) external onlyRegistry nonReentrant {
        uint256 n = _tokens.length;
        for (uint256 i; i < n; ++i) {
            _distribute(assetId, _tokens[i]);
        }
    }

    // --------------------------------------------------------------------------------------- internal

    function _apply(address payer, address token, bytes calldata lanes, bytes calldata signatures)
        internal
        returns (uint256 total, bytes memory attribution)
    {
        if (msg.sender != payer) {
            // no proofs: every signature is a plain voucher's (an assembly empty slice is ~100 gas cheaper
            // than `signatures[:0]`)
            bytes calldata plain;
            assembly ("memory-safe") {
                plain.offset := 0
                plain.length := 0
            }
            _checkVouchers(payer, token, lanes, signatures, plain);
        }
        uint256[4] memory failure;
        uint256 count;
        (total, count, attribution) = _applyPacked(payer, token, lanes, failure);
        if (failure[0] != 0) _revertLane(failure);
        if (count > MAX_LANES) revert TooManyLanes(count, MAX_LANES);
    }

    /// @dev The settlement hot path, in one assembly block (gas: one cold read and write per lane and
    /// per credit, near the EVM floor). For each packed entry it recomputes the lane id, checks the lane
    /// (exists, open, in time, under cap, strictly newer), moves `claimed` up to the cumulative amount,
    /// credits each ancestor floor(delta x bps / 10 000) and the model the rest, and appends the lane's
    /// attribution entry. A failed check stops the loop and is reported in `failure` (code, a, b, c) so
    /// Solidity can revert with a typed error.
    function _applyPacked(address payer, address token, bytes calldata lanes, uint256[4] memory failure)
        internal
        returns (uint256 total, uint256 count, bytes memory attribution)
    {
        attribution = new bytes((lanes.length / 33 + 1) * 20);
        uint256 delay = reclaimDelay;
        uint256 firstCreditSlot = _creditBase(token);
        assembly ("memory-safe") {
            // ctx (scratch beyond the free memory pointer), one word each:
            // 0x00 lanes offset | 0x20 lanes length | 0x40 reclaim delay | 0x60 first credit slot of token
            // 0xa0 attribution cursor | 0xc0 total | 0xe0 count | 0x100 failure pointer
            // 0x120: lane id preimage, payer (20) | token (20) | modelId, termsVersion, seq (20) | lineageHash (32)
            // 0x180: the lane's packed lineage, copied to be hashed
            function credit(base, id, amount) {
                let slot := add(base, shr(1, id))
                let w := sload(slot)
                let sh := mul(and(id, 1), 128)
                let half := and(shr(sh, w), 0xffffffffffffffffffffffffffffffff)
                // a never-seeded half starts at the +1 offset
                if iszero(half) { half := 1 }
                let next := add(half, amount)
                // never let a half spill into its neighbour's: Panic(0x11), arithmetic overflow
                if gt(next, 0xffffffffffffffffffffffffffffffff) {
                    mstore(0, shl(224, 0x4e487b71))
                    mstore(4, 0x11)
                    revert(0, 0x24)
                }
                sstore(slot, or(and(w, not(shl(sh, 0xffffffffffffffffffffffffffffffff))), shl(sh, next)))
            }
            function fail(ctx, code, a, b, c) {
                let f := mload(add(ctx, 0x100))
                mstore(f, code)
                mstore(add(f, 0x20), a)
                mstore(add(f, 0x40), b)
                mstore(add(f, 0x60), c)
            }
            function lane(ctx, o) -> next {
                let base := mload(ctx)
                let len := mload(add(ctx, 0x20))
                next := len
                if gt(add(o, 33), len) {
                    fail(ctx, 1, o, 0, 0)
                    leave
                }
                let head := calldataload(add(base, o))
                let tail := calldataload(add(base, add(o, 20)))
                let anc := add(o, 33)
                let end := add(anc, mul(and(shr(152, tail), 0xff), 10))
                if gt(and(shr(152, tail), 0xff), 32) {
                    fail(ctx, 7, and(shr(152, tail), 0xff), 0, 0)
                    leave
                }
                if gt(end, len) {
                    fail(ctx, 1, o, 0, 0)
                    leave
                }
                let pre := add(ctx, 0x120)
                calldatacopy(add(ctx, 0x180), add(base, anc), sub(end, anc))
                mstore(add(pre, 40), and(head, not(0xffffffffffffffffffffffff)))
                mstore(add(pre, 60), keccak256(add(ctx, 0x180), sub(end, anc)))
                let laneId := keccak256(pre, 92)
                // the lane's state lives at slot `laneId`
                let w := sload(laneId)
                let cumulative := shr(160, tail)
                if iszero(w) {
                    fail(ctx, 2, laneId, 0, 0)
                    leave
                }
                if and(w, shl(232, 1)) {
                    fail(ctx, 3, laneId, 0, 0)
                    leave
                }
                if iszero(lt(timestamp(), add(and(shr(192, w), 0xffffffffff), mload(add(ctx, 0x40))))) {
                    fail(ctx, 4, laneId, and(shr(192, w), 0xffffffffff), 0)
                    leave
                }
                if gt(cumulative, and(w, 0xffffffffffffffffffffffff)) {
                    fail(ctx, 5, laneId, cumulative, and(w, 0xffffffffffffffffffffffff))
                    leave
                }
                let claimed := and(shr(96, w), 0xffffffffffffffffffffffff)
                if iszero(gt(cumulative, claimed)) {
                    fail(ctx, 6, laneId, cumulative, claimed)
                    leave
                }
                sstore(laneId, or(and(w, not(shl(96, 0xffffffffffffffffffffffff))), shl(96, cumulative)))
                let delta := sub(cumulative, claimed)
                mstore(add(ctx, 0xc0), add(mload(add(ctx, 0xc0)), delta))
                mstore(add(ctx, 0xe0), add(mload(add(ctx, 0xe0)), 1))

                // the lane's entry: the model and what the lane paid; the ancestors' shares follow from the
                // immutable lineage by the same floor rule, so they are not logged one by one
                let out := mload(add(ctx, 0xa0))
                mstore(out, or(shl(192, shr(192, head)), shl(96, delta)))
                out := add(out, 20)
                let creditBase := mload(add(ctx, 0x60))
                let rest := delta
                for { let a := anc } lt(a, end) { a := add(a, 10) } {
                    let e := calldataload(add(base, a))
                    let share := div(mul(delta, and(shr(176, e), 0xffff)), 10000)
                    rest := sub(rest, share)
                    credit(creditBase, shr(192, e), share)
                }
                credit(creditBase, shr(192, head), rest)
                mstore(add(ctx, 0xa0), out)
                next := end
            }

            let ctx := mload(0x40)
            mstore(ctx, lanes.offset)
            mstore(add(ctx, 0x20), lanes.length)
            mstore(add(ctx, 0x40), delay)
            mstore(add(ctx, 0x60), firstCreditSlot)
            mstore(add(ctx, 0xa0), add(attribution, 32))
            mstore(add(ctx, 0xc0), 0)
            mstore(add(ctx, 0xe0), 0)
            mstore(add(ctx, 0x100), failure)
            mstore(add(ctx, 0x120), shl(96, payer))
            mstore(add(ctx, 0x134), shl(96, token))
            for { let o := 0 } lt(o, lanes.length) {} { o := lane(ctx, o) }
            total := mload(add(ctx, 0xc0))
            count := mload(add(ctx, 0xe0))
            mstore(attribution, sub(mload(add(ctx, 0xa0)), add(attribution, 32)))
        }
    }

    function _revertLane(uint256[4] memory f) internal pure {
        uint256 code = f[0];
        bytes32 laneId = bytes32(f[1]);
        if (code == 1) revert MalformedLanes(f[1]);
        if (code == 2) revert UnknownLane(laneId);
        if (code == 3) revert LaneClosed(laneId);
        if (code == 4) revert LaneExpired(laneId, uint40(f[2]));
        if (code == 5) revert LaneOverdrawn(laneId, f[2], uint96(f[3]));
        if (code == 7) revert TooManyAncestors(f[1], MAX_ANCESTORS);
        revert VoucherNotNewer(laneId, f[2], uint96(f[3]));
    }

    /// @dev The third-party path: every lane needs the payer's signature for exactly its new cumulative, of
    /// its voucher or, through the lane's record in `proofs`, of a batch root; one signature per lane, and
    /// every proof byte used. Empty `proofs` means every signature is a voucher's. Malformed entries are left
    /// to `_applyPacked` to report.
    function _checkVouchers(
        address payer,
        address token,
        bytes calldata lanes,
        bytes calldata signatures,
        bytes calldata proofs
    ) internal view {
        uint256 count;
        uint256 o;
        uint256 p;
        while (o + 33 <= lanes.length) {
            uint256 tail;
            assembly ("memory-safe") {
                tail := calldataload(add(lanes.offset, add(o, 20)))
            }
            uint256 end = o + 33 + ((tail >> 152) & 0xff) * 10;
            if (end > lanes.length) break;
            bytes32 laneId = _laneIdAt(payer, token, lanes[o:end]);
            p = _checkVoucher(payer, laneId, tail >> 160, signatures, count, proofs, p);
            ++count;
            o = end;
        }
        if (p != proofs.length) revert MalformedProofs(p);
        if (signatures.length != count * 65) revert MissingSignatures(count, signatures.length / 65);
    }

    /// @dev keccak(payer | token | modelId, termsVersion, seq (the first 20 bytes of `entry`) | keccak(lineage)),
    /// the lineage being the entry's bytes after its 33-byte head.
    function _laneIdAt(address payer, address token, bytes calldata entry) internal pure returns (bytes32 laneId) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, add(entry.offset, 33), sub(entry.length, 33))
            let lineageHash := keccak256(m, sub(entry.length, 33))
            mstore(m, shl(96, payer))
            mstore(add(m, 20), shl(96, token))
            mstore(add(m, 40), and(calldataload(entry.offset), not(sub(shl(96, 1), 1))))
            mstore(add(m, 60), lineageHash)
            laneId := keccak256(m, 92)
        }
    }

    /// @dev Checks the payer's signature number `index`: of the lane's voucher when `proofs` is empty, else
    /// as the lane's proof record at `p` says. Returns the offset of the next record.
    function _checkVoucher(
        address payer,
        bytes32 laneId,
        uint256 cumulative,
        bytes calldata signatures,
        uint256 index,
        bytes calldata proofs,
        uint256 p
    ) internal view returns (uint256 next) {
        uint256 start = index * 65;
        if (signatures.length < start + 65) revert MissingSignatures(index + 1, signatures.length / 65);
        bytes32 digest;
        if (proofs.length == 0) digest = voucherDigest(laneId, cumulative);
        else (digest, next) = _provenDigest(laneId, cumulative, proofs, p);
        if (!SignatureChecker.isValidSignatureNow(payer, digest, signatures[start:start + 65])) {
            revert InvalidVoucherSignature(laneId);
        }
    }

    /// @dev Reads the proof record at `p` and returns the digest the lane's signature must be for, and the
    /// offset of the next record. n == 0: the voucher's own digest. Otherwise the n siblings fold the voucher's
    /// struct hash up to a root by sorted-pair keccak256 (OpenZeppelin `MerkleProof`), and the digest is the
    /// root's `Vouchers` message. n is one byte, so the fold is bounded by 255.
    function _provenDigest(bytes32 laneId, uint256 cumulative, bytes calldata proofs, uint256 p)
        internal
        view
        returns (bytes32 digest, uint256 next)
    {
        if (p >= proofs.length) revert MalformedProofs(p);
        next = p + 1 + uint256(uint8(proofs[p])) * 32;
        if (next > proofs.length) revert MalformedProofs(p);
        bytes32 node = keccak256(abi.encode(VOUCHER_TYPEHASH, laneId, cumulative));
        if (next == p + 1) return (_hashTypedDataV4(node), next);
        for (uint256 q = p + 1; q < next; q += 32) {
            node = Hashes.commutativeKeccak256(node, bytes32(proofs[q:q + 32]));
        }
        digest = vouchersDigest(node);
    }

    /// @dev Credits each ancestor in `lineage` floor(amount x bps / 10 000) and `assetId` the rest.
    function _creditSplit(address token, uint256 assetId, uint256 amount, bytes memory lineage) internal {
        uint256 n = lineage.length / 10;
        uint256 rest = amount;
        for (uint256 i; i < n; ++i) {
            uint256 word;
            assembly ("memory-safe") {
                word := mload(add(add(lineage, 32), mul(i, 10)))
            }
            uint256 share = (amount * ((word >> 176) & 0xffff)) / BPS;
            rest -= share;
            _credit(token, word >> 192, share);
        }
        _credit(token, assetId, rest);
    }

    function _credit(address token, uint256 assetId, uint256 amount) internal {
        uint256 shift = (assetId & 1) * 128;
        (uint256 slot, uint256 w) = _creditWord(token, assetId);
        uint256 half = (w >> shift) & MASK_128;
        // a never-seeded half starts at the +1 offset
        uint256 next = (half == 0 ? 1 : half) + amount;
        // never let a half spill into its neighbour's
        if (next > MASK_128) revert AmountTooLarge(next);
        _storeWord(slot, (w & ~(MASK_128 << shift)) | (next << shift));
    }

    function _seed(address token, uint256 assetId) internal {
        uint256 shift = (assetId & 1) * 128;
        (uint256 slot, uint256 w) = _creditWord(token, assetId);
        if ((w >> shift) & MASK_128 == 0) _storeWord(slot, w | (uint256(1) << shift));
    }

    function _distribute(uint256 assetId, address token) internal returns (uint256 amount) {
        amount = creditOf(token, assetId);
        if (amount == 0) return 0;
        uint256 shift = (assetId & 1) * 128;
        (uint256 slot, uint256 w) = _creditWord(token, assetId);
        _storeWord(slot, (w & ~(MASK_128 << shift)) | (uint256(1) << shift));
        (address[] memory payees, uint16[] memory shares) = registry.payeesOf(assetId);
        uint256 rest = amount;
        for (uint256 i = 1; i < payees.length; ++i) {
            uint256 part = (amount * shares[i]) / BPS;
            rest -= part;
            balanceOf[token][payees[i]] += part;
        }
        balanceOf[token][payees[0]] += rest;
        emit Distributed(assetId, token, amount);
    }

    function _deposit(address token, address payer, uint256 amount) internal {
        if (!tokenAllowed[token]) revert TokenNotAllowed(token);
        if (amount == 0) revert ZeroAmount();
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(payer, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received != amount) revert FeeOnTransferToken(token, amount, received);
        escrowOf[token][payer] += amount;
        emit Deposited(payer, token, amount);
    }

    function _takeEscrow(address token, address payer, uint256 amount) internal {
        uint256 available = escrowOf[token][payer];
        if (available < amount) revert InsufficientEscrow(token, available, amount);
        escrowOf[token][payer] = available - amount;
    }

    function _loadLane(bytes32 laneId) internal view returns (LaneState memory s) {
        uint256 w = _laneWord(laneId);
        if (w == 0) revert UnknownLane(laneId);
        s = LaneState(uint96(w), uint96(w >> 96), uint40(w >> 192), w & CLOSED != 0);
    }

    function _laneWord(bytes32 laneId) internal view returns (uint256 w) {
        assembly ("memory-safe") {
            w := sload(laneId)
        }
    }

    function _storeLane(bytes32 laneId, uint256 w) internal {
        assembly ("memory-safe") {
            sstore(laneId, w)
        }
    }

    /// @dev The first credit slot of `token`; asset pair k is at `creditBase(token) + k`.
    function _creditBase(address token) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(token, CREDITS_SEED)));
    }

    function _creditWord(address token, uint256 assetId) internal view returns (uint256 slot, uint256 w) {
        slot = _creditBase(token) + (assetId >> 1);
        assembly ("memory-safe") {
            w := sload(slot)
        }
    }

    function _storeWord(uint256 slot, uint256 w) internal {
        assembly ("memory-safe") {
            sstore(slot, w)
        }
    }

    function _packLane(uint96 cap, uint96 claimed, uint40 expiresAt, bool closed) internal pure returns (uint256) {
        return uint256(cap) | (uint256(claimed) << 96) | (uint256(expiresAt) << 192) | (closed ? CLOSED : 0);
    }

    function _laneId(
        address payer,
        address token,
        uint64 modelId,
        uint32 termsVersion,
        bytes32 lineageHash,
        uint64 seq
    ) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(payer, token, modelId, termsVersion, seq, lineageHash));
    }
}
