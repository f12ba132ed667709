// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "../utils/Test.sol";
import {Ledger} from "../../src/Ledger.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {TestStablecoin} from "../../src/TestStablecoin.sol";

/// @notice Drives the ledger through random but mostly valid sequences for the invariant suite: a
/// few payers, a few payees, four assets, at most 24 lanes. Keeps ghost totals of every token that
/// entered or left, and every voucher ever redeemed so replays can be tried later.
contract LedgerHandler is Test {
    uint256 internal constant MAX_LANES = 24;
    uint256 internal constant MAX_VOUCHERS = 32;
    uint256 internal constant MAX_AMOUNT = 1e12;

    TestStablecoin public immutable token;
    ModelRegistry public immutable registry;
    Ledger public immutable ledger;
    address public immutable creator;

    address[] public payers;
    uint256[] internal payerKeys;
    address[] public payees;
    uint256[] public assets;
    address public immutable provider;

    Ledger.LaneKey[] internal _keys;
    bytes32[] public laneIds;

    struct Voucher {
        uint256 lane;
        uint96 cumulative;
        bytes signature;
    }

    Voucher[] internal _vouchers;
    uint256 internal _voucherCursor;

    uint256 public deposited;
    uint256 public withdrawn;
    uint256 public replayAttempts;
    uint256 public replaySuccesses;
    uint256 public settlements;
    uint256 public overdrawAttempts;
    uint256 public overdrawSuccesses;
    uint256 internal _roots;

    constructor(
        TestStablecoin token_,
        ModelRegistry registry_,
        Ledger ledger_,
        address creator_,
        address[] memory payees_,
        uint256[] memory assets_
    ) {
        token = token_;
        registry = registry_;
        ledger = ledger_;
        creator = creator_;
        payees = payees_;
        assets = assets_;
        provider = makeAddr("handler-provider");
        for (uint256 i; i < 3; ++i) {
            (address a, uint256 k) = makeAddrAndKey(string.concat("payer", _str(i)));
            payers.push(a);
            payerKeys.push(k);
            vm.prank(a);
            token_.approve(address(ledger_), type(uint256).max);
        }
    }

    // ----------------------------------------------------------------------------------- actions

    function deposit(uint256 who, uint256 amount) external {
        address payer = payers[who % payers.length];
        amount = bound(amount, 1, MAX_AMOUNT);
        _mintAndCount(payer, amount);
        vm.prank(payer);
        ledger.deposit(address(token), amount);
    }

    function withdrawEscrow(uint256 who, uint256 amount) external {
        address payer = payers[who % payers.length];
        uint256 escrow = ledger.escrowOf(address(token), payer);
        if (escrow == 0) return;
        amount = bound(amount, 1, escrow);
        vm.prank(payer);
        ledger.withdrawEscrow(address(token), amount);
        withdrawn += amount;
    }

    function openLicense(uint256 who, uint256 assetSeed, uint256 cap, uint256 duration) external {
        if (_keys.length == MAX_LANES) return;
        address payer = payers[who % payers.length];
        uint256 model = assets[assetSeed % assets.length];
        cap = bound(cap, 1, MAX_AMOUNT);
        uint40 expiresAt = uint40(block.timestamp + bound(duration, 1, 10 days));
        uint256 escrow = ledger.escrowOf(address(token), payer);
        // pays what is missing through openLicense's own deposit
        uint256 topUp = escrow >= cap ? 0 : cap - escrow;
        if (topUp > 0) _mintAndCount(payer, topUp);
        (address tok,, uint32 termsVersion, bytes32 lineageHash) = registry.licenseInfo(model);
        vm.prank(payer);
        bytes32 laneId = ledger.openLicense(model, uint96(cap), expiresAt, type(uint96).max, topUp);
        _keys.push(Ledger.LaneKey(payer, tok, uint64(model), termsVersion, lineageHash, ledger.laneCount()));
        laneIds.push(laneId);
    }

    function topUpLicense(uint256 laneSeed, uint256 addCap, uint256 extend) external {
        if (_keys.length == 0) return;
        uint256 i = laneSeed % _keys.length;
        Ledger.LaneState memory s = ledger.laneState(laneIds[i]);
        if (s.closed || block.timestamp >= s.expiresAt) return;
        Ledger.LaneKey memory key = _keys[i];
        addCap = bound(addCap, 0, MAX_AMOUNT);
        uint256 escrow = ledger.escrowOf(address(token), key.payer);
        uint256 topUp = escrow >= addCap ? 0 : addCap - escrow;
        if (topUp > 0) _mintAndCount(key.payer, topUp);
        vm.prank(key.payer);
        ledger.topUpLicense(key, uint96(addCap), uint40(s.expiresAt + bound(extend, 0, 5 days)), topUp);
    }

    /// @dev The payer settles one or two of its own lanes under a fresh receipt root.
    function settleAsPayer(uint256 laneSeed, uint256 amount, uint256 otherSeed, uint256 amount2) external {
        (bool ok, uint256 i) = _liveLane(laneSeed);
        if (!ok) return;
        Ledger.LaneKey memory key = _keys[i];
        (uint96 cum, uint256 delta) = _next(i, amount);
        bytes memory lanes = _entry(key, cum);
        (bool ok2, uint256 j) = _liveLane(otherSeed);
        if (ok2 && j != i && _keys[j].payer == key.payer) {
            (uint96 cum2, uint256 delta2) = _next(j, amount2);
            lanes = abi.encodePacked(lanes, _entry(_keys[j], cum2));
            delta += delta2;
        }
        bytes32 root = keccak256(abi.encode("root", ++_roots));
        vm.prank(key.payer);
        ledger.settle(key.payer, address(token), delta, root, lanes, "");
        ++settlements;
    }

    /// @dev A provider redeems the payer's newest signed vouchers on one or two of its lanes; each
    /// voucher is then kept for replays.
    function redeemSigned(uint256 laneSeed, uint256 amount, uint256 otherSeed, uint256 amount2) external {
        (bool ok, uint256 i) = _liveLane(laneSeed);
        if (!ok) return;
        (uint96 cum,) = _next(i, amount);
        bytes memory sig = _sign(i, cum);
        bytes memory lanes = _entry(_keys[i], cum);
        (bool ok2, uint256 j) = _liveLane(otherSeed);
        bool two = ok2 && j != i && _keys[j].payer == _keys[i].payer;
        uint96 cum2;
        bytes memory sig2;
        if (two) {
            (cum2,) = _next(j, amount2);
            sig2 = _sign(j, cum2);
            lanes = abi.encodePacked(lanes, _entry(_keys[j], cum2));
        }
        vm.prank(provider);
        ledger.redeem(_keys[i].payer, address(token), lanes, abi.encodePacked(sig, sig2));
        ++settlements;
        _keep(Voucher(i, cum, sig));
        if (two) _keep(Voucher(j, cum2, sig2));
    }

    function _keep(Voucher memory v) internal {
        if (_vouchers.length < MAX_VOUCHERS) {
            _vouchers.push(v);
        } else {
            _vouchers[_voucherCursor++ % MAX_VOUCHERS] = v;
        }
    }

    /// @dev Tries an already redeemed voucher again; any success is a replay and is counted.
    function replayVoucher(uint256 seed) external {
        if (_vouchers.length == 0) return;
        Voucher memory v = _vouchers[seed % _vouchers.length];
        Ledger.LaneKey memory key = _keys[v.lane];
        bytes memory lanes = _entry(key, v.cumulative);
        uint256 before = ledger.laneState(laneIds[v.lane]).claimed;
        ++replayAttempts;
        vm.prank(provider);
        try ledger.redeem(key.payer, address(token), lanes, v.signature) {
            ++replaySuccesses;
        } catch {}
        if (ledger.laneState(laneIds[v.lane]).claimed != before) ++replaySuccesses;
    }

    /// @dev Tries to pull more than a lane's cap with a genuine payer signature; must never succeed.
    function overdraw(uint256 laneSeed, uint256 extra) external {
        (bool ok, uint256 i) = _liveLane(laneSeed);
        if (!ok) return;
        Ledger.LaneState memory s = ledger.laneState(laneIds[i]);
        uint96 cum = uint96(s.cap + bound(extra, 1, 1_000));
        bytes memory sig = _sign(i, cum);
        bytes memory lanes = _entry(_keys[i], cum);
        ++overdrawAttempts;
        vm.prank(provider);
        try ledger.redeem(_keys[i].payer, address(token), lanes, sig) {
            ++overdrawSuccesses;
        } catch {}
    }

    function warp(uint256 secondsAhead) external {
        vm.warp(block.timestamp + bound(secondsAhead, 1, 3 days));
    }

    function reclaim(uint256 laneSeed) external {
        if (_keys.length == 0) return;
        uint256 i = laneSeed % _keys.length;
        Ledger.LaneState memory s = ledger.laneState(laneIds[i]);
        if (s.closed || block.timestamp < uint256(s.expiresAt) + ledger.reclaimDelay()) return;
        ledger.reclaim(_keys[i]);
    }

    function distribute(uint256 assetSeed) external {
        uint256 id = assets[assetSeed % assets.length];
        if (ledger.creditOf(address(token), id) == 0) return;
        ledger.distribute(id, address(token));
    }

    function withdraw(uint256 payeeSeed) external {
        address payee = payees[payeeSeed % payees.length];
        uint256 amount = ledger.balanceOf(address(token), payee);
        if (amount == 0) return;
        vm.prank(payee);
        ledger.withdraw(address(token), payee);
        withdrawn += amount;
    }

    function buyPeriod(uint256 who, uint256 assetSeed) external {
        address payer = payers[who % payers.length];
        uint256 id = assets[assetSeed % assets.length];
        (, uint96 fee,,,) = registry.flatFeeInfo(id);
        if (fee == 0) return;
        uint256 escrow = ledger.escrowOf(address(token), payer);
        uint256 topUp = escrow >= fee ? 0 : fee - escrow;
        if (topUp > 0) _mintAndCount(payer, topUp);
        vm.prank(payer);
        ledger.buyPeriod(id, fee, topUp);
    }

    /// @dev The owner moves an asset to another pair of payees, flushing its credits to the old ones.
    function updatePayees(uint256 assetSeed, uint256 payeeSeed) external {
        uint256 id = assets[assetSeed % assets.length];
        (address tok, uint96 price,,) = registry.licenseInfo(id);
        (, uint96 fee, uint32 period,,) = registry.flatFeeInfo(id);
        address[] memory next = new address[](2);
        next[0] = payees[payeeSeed % payees.length];
        next[1] = payees[(payeeSeed % payees.length + 1) % payees.length];
        uint16[] memory shares = new uint16[](2);
        shares[0] = uint16(1 + payeeSeed % 9_999);
        shares[1] = 10_000 - shares[0];
        vm.prank(creator);
        registry.updateTerms(id, ModelRegistry.Terms(tok, price, fee, period), next, shares);
    }

    // -------------------------------------------------------------------------------------- views

    function laneCount() external view returns (uint256) {
        return _keys.length;
    }

    function payerCount() external view returns (uint256) {
        return payers.length;
    }

    function payeeCount() external view returns (uint256) {
        return payees.length;
    }

    function assetCount() external view returns (uint256) {
        return assets.length;
    }

    // ------------------------------------------------------------------------------------ helpers

    function _mintAndCount(address to, uint256 amount) internal {
        token.mint(to, amount);
        deposited += amount;
    }

    /// @dev A lane that can still be charged: open, in its redemption window, not yet at its cap.
    function _liveLane(uint256 seed) internal view returns (bool, uint256 i) {
        if (_keys.length == 0) return (false, 0);
        i = seed % _keys.length;
        Ledger.LaneState memory s = ledger.laneState(laneIds[i]);
        bool live = !s.closed && block.timestamp < uint256(s.expiresAt) + ledger.reclaimDelay() && s.claimed < s.cap;
        return (live, i);
    }

    function _next(uint256 i, uint256 amount) internal view returns (uint96 cumulative, uint256 delta) {
        Ledger.LaneState memory s = ledger.laneState(laneIds[i]);
        delta = bound(amount, 1, s.cap - s.claimed);
        cumulative = uint96(s.claimed + delta);
    }

    function _entry(Ledger.LaneKey memory key, uint96 cumulative) internal view returns (bytes memory) {
        bytes memory lineage = registry.lineageOf(key.modelId);
        return abi.encodePacked(key.modelId, key.termsVersion, key.seq, cumulative, uint8(lineage.length / 10), lineage);
    }

    function _sign(uint256 i, uint96 cumulative) internal returns (bytes memory) {
        uint256 k;
        for (uint256 p; p < payers.length; ++p) {
            if (payers[p] == _keys[i].payer) k = payerKeys[p];
        }
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(k, ledger.voucherDigest(laneIds[i], cumulative));
        return abi.encodePacked(r, s, v);
    }
}
