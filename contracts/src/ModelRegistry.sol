// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ILedgerHooks} from "./interfaces/ILedgerHooks.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";

/// @title ModelRegistry
/// @notice Models and datasets listed as ERC-721 assets: a card (URI + hash), terms (token, price per
/// call, optional flat fee for a period, payees) and an immutable, flattened lineage.
/// @dev The flattened ancestor vector is fixed at registration and stored packed: 10 bytes per
/// ancestor (uint64 id, uint16 royalty bps), sorted by id. Its hash travels into every license lane, so
/// settlement can check ancestors given in calldata without reading this contract.
contract ModelRegistry is ERC721, Ownable, IModelRegistry {
    uint256 public constant BPS = 10_000;
    uint256 public constant MAX_PAYEES = 8;
    uint256 public constant MAX_PARENTS = 8;
    uint256 public constant MAX_ANCESTORS = 32;
    uint256 public constant MAX_LINEAGE_BPS = 5_000;

    uint8 public constant KIND_MODEL = 0;
    uint8 public constant KIND_DATASET = 1;

    struct Terms {
        address token;
        uint96 pricePerCall;
        uint96 flatFee;
        uint32 flatPeriod;
    }

    struct RegisterParams {
        uint8 kind;
        string cardURI;
        bytes32 cardHash;
        Terms terms;
        address[] payees;
        uint16[] shares;
        uint16 royaltyBps;
        uint256[] parents;
    }

    struct Asset {
        uint8 kind;
        uint16 royaltyBps;
        uint32 termsVersion;
        uint32 cardVersion;
        address token;
        uint96 pricePerCall;
        uint96 flatFee;
        uint32 flatPeriod;
        bytes32 cardHash;
        bytes32 lineageHash;
        string cardURI;
        bytes lineage;
        address[] payees;
        uint16[] shares;
    }

    /// @notice Everything known of an asset, as `getAsset` returns it.
    struct AssetView {
        address owner;
        uint8 kind;
        uint16 royaltyBps;
        uint32 termsVersion;
        uint32 cardVersion;
        Terms terms;
        bytes32 termsHash;
        bytes32 cardHash;
        string cardURI;
        bytes lineage;
        bytes32 lineageHash;
        address[] payees;
        uint16[] shares;
    }

    ILedgerHooks public ledger;
    uint256 public assetCount;
    mapping(uint256 assetId => Asset) internal _assets;
    mapping(uint256 assetId => mapping(uint32 termsVersion => bytes32)) public termsHashAt;

    event LedgerSet(address indexed ledger);
    event AssetRegistered(
        uint256 indexed assetId,
        address indexed owner,
        uint8 kind,
        uint16 royaltyBps,
        uint256[] parents,
        bytes lineage,
        bytes32 lineageHash
    );
    event CardPublished(uint256 indexed assetId, uint32 version, string uri, bytes32 cardHash);
    event TermsUpdated(
        uint256 indexed assetId,
        uint32 version,
        Terms terms,
        address[] payees,
        uint16[] shares,
        bytes32 termsHash
    );

    error LedgerAlreadySet();
    error LedgerNotSet();
    error UnknownAsset(uint256 assetId);
    error NotAssetOperator(uint256 assetId, address caller);
    error InvalidKind(uint8 kind);
    error EmptyCard();
    error InvalidPayees(string reason);
    error TokenNotAllowed(address token);
    error InvalidTerms(string reason);
    error RoyaltyTooHigh(uint16 royaltyBps, uint256 max);
    error TooManyParents(uint256 count, uint256 max);
    error DuplicateParent(uint256 parentId);
    error TooManyAncestors(uint256 count, uint256 max);
    error LineageTooExpensive(uint256 totalBps, uint256 max);

    constructor(address initialOwner) ERC721("tributary model", "TRIB") Ownable(initialOwner) {}

    /// @notice Links the ledger once, after both are deployed.
    function setLedger(ILedgerHooks ledger_) external onlyOwner {
        if (address(ledger) != address(0)) revert LedgerAlreadySet();
        ledger = ledger_;
        emit LedgerSet(address(ledger_));
    }

    /// @notice Registers a model or dataset and mints it to the caller.
    /// @dev The lineage is flattened here (union of the parents and their ancestors, each with the
    /// royalty it asks of derivatives) and fixed forever. Parents must already exist, so no cycle can form.
    function register(RegisterParams calldata p) external returns (uint256 assetId) {
        if (address(ledger) == address(0)) revert LedgerNotSet();
        if (p.kind > KIND_DATASET) revert InvalidKind(p.kind);
        if (bytes(p.cardURI).length == 0 || p.cardHash == bytes32(0)) revert EmptyCard();
        if (p.royaltyBps > MAX_LINEAGE_BPS) revert RoyaltyTooHigh(p.royaltyBps, MAX_LINEAGE_BPS);
        _checkTerms(p.terms);
        _checkPayees(p.payees, p.shares);

        bytes memory lineage = _flatten(p.parents);
        bytes32 lineageHash = keccak256(lineage);

        assetId = ++assetCount;
        Asset storage a = _assets[assetId];
        a.kind = p.kind;
        a.royaltyBps = p.royaltyBps;
        a.cardURI = p.cardURI;
        a.cardHash = p.cardHash;
        a.cardVersion = 1;
        a.lineage = lineage;
        a.lineageHash = lineageHash;
        _mint(msg.sender, assetId);

        emit AssetRegistered(assetId, msg.sender, p.kind, p.royaltyBps, p.parents, lineage, lineageHash);
        emit CardPublished(assetId, 1, p.cardURI, p.cardHash);
        _setTerms(assetId, a, p.terms, p.payees, p.shares);
        if (p.terms.token != address(0)) ledger.seedCredits(p.terms.token, assetId, lineage);
    }

    /// @notice Publishes a new card version (URI and hash). Owner or approved operator only.
    function publishCard(uint256 assetId, string calldata uri, bytes32 cardHash) external {
        _checkOperator(assetId);
        if (bytes(uri).length == 0 || cardHash == bytes32(0)) revert EmptyCard();
        Asset storage a = _assets[assetId];
        uint32 version = ++a.cardVersion;
        a.cardURI = uri;
        a.cardHash = cardHash;
        emit CardPublished(assetId, version, uri, cardHash);
    }

    /// @notice Changes price, token, flat fee or payees for licenses opened from now on. Lanes already
    /// open keep the terms version they were opened under; what was credited before a payee change is
    /// distributed to the old payees first.
    function updateTerms(uint256 assetId, Terms calldata terms, address[] calldata payees, uint16[] calldata shares)
        external
    {
        _checkOperator(assetId);
        _checkTerms(terms);
        _checkPayees(payees, shares);
        Asset storage a = _assets[assetId];
        ledger.flushCredits(assetId);
        _setTerms(assetId, a, terms, payees, shares);
        if (terms.token != address(0)) ledger.seedCredits(terms.token, assetId, a.lineage);
    }

    // ------------------------------------------------------------------------------------------ views

    /// @inheritdoc IModelRegistry
    function exists(uint256 assetId) public view returns (bool) {
        return _ownerOf(assetId) != address(0);
    }

    /// @inheritdoc IModelRegistry
    function licenseInfo(uint256 assetId)
        external
        view
        returns (address token, uint96 pricePerCall, uint32 termsVersion, bytes32 lineageHash)
    {
        _requireExists(assetId);
        Asset storage a = _assets[assetId];
        return (a.token, a.pricePerCall, a.termsVersion, a.lineageHash);
    }

    /// @inheritdoc IModelRegistry
    function flatFeeInfo(uint256 assetId)
        external
        view
        returns (address token, uint96 flatFee, uint32 flatPeriod, uint32 termsVersion, bytes memory lineage)
    {
        _requireExists(assetId);
        Asset storage a = _assets[assetId];
        return (a.token, a.flatFee, a.flatPeriod, a.termsVersion, a.lineage);
    }

    /// @inheritdoc IModelRegistry
    function payeesOf(uint256 assetId) external view returns (address[] memory payees, uint16[] memory shares) {
        _requireExists(assetId);
        return (_assets[assetId].payees, _assets[assetId].shares);
    }

    /// @notice The packed flattened lineage: 10 bytes per ancestor (uint64 id, uint16 bps), sorted by id.
    function lineageOf(uint256 assetId) external view returns (bytes memory) {
        _requireExists(assetId);
        return _assets[assetId].lineage;
    }

    /// @notice Everything known of an asset.
    function getAsset(uint256 assetId) external view returns (AssetView memory v) {
        _requireExists(assetId);
        Asset storage a = _assets[assetId];
        v.owner = _ownerOf(assetId);
        v.kind = a.kind;
        v.royaltyBps = a.royaltyBps;
        v.termsVersion = a.termsVersion;
        v.cardVersion = a.cardVersion;
        v.terms = Terms(a.token, a.pricePerCall, a.flatFee, a.flatPeriod);
        v.termsHash = termsHashAt[assetId][a.termsVersion];
        v.cardHash = a.cardHash;
        v.cardURI = a.cardURI;
        v.lineage = a.lineage;
        v.lineageHash = a.lineageHash;
        v.payees = a.payees;
        v.shares = a.shares;
    }

    // --------------------------------------------------------------------------------------- internal

    function _setTerms(
        uint256 assetId,
        Asset storage a,
        Terms calldata terms,
        address[] calldata payees,
        uint16[] calldata shares
    ) internal {
        uint32 version = ++a.termsVersion;
        a.token = terms.token;
        a.pricePerCall = terms.pricePerCall;
        a.flatFee = terms.flatFee;
        a.flatPeriod = terms.flatPeriod;
        a.payees = payees;
        a.shares = shares;
        bytes32 termsHash = keccak256(abi.encode(terms, payees, shares));
        termsHashAt[assetId][version] = termsHash;
        emit TermsUpdated(assetId, version, terms, payees, shares, termsHash);
    }

    function _checkOperator(uint256 assetId) internal view {
        address owner = _requireExists(assetId);
        if (!_isAuthorized(owner, msg.sender, assetId)) revert NotAssetOperator(assetId, msg.sender);
    }

    function _requireExists(uint256 assetId) internal view returns (address owner) {
        owner = _ownerOf(assetId);
        if (owner == address(0)) revert UnknownAsset(assetId);
    }

    function _checkTerms(Terms calldata t) internal view {
        bool paid = t.pricePerCall > 0 || t.flatFee > 0;
        if (t.token == address(0)) {
            if (paid) revert InvalidTerms("a paid asset needs a payment token");
        } else if (!ledger.tokenAllowed(t.token)) {
            revert TokenNotAllowed(t.token);
        }
        if (t.flatFee > 0 && t.flatPeriod == 0) revert InvalidTerms("a flat fee needs a period");
        if (t.flatFee == 0 && t.flatPeriod != 0) revert InvalidTerms("a period needs a flat fee");
    }

    function _checkPayees(address[] calldata payees, uint16[] calldata shares) internal pure {
        uint256 n = payees.length;
        if (n == 0 || n > MAX_PAYEES) revert InvalidPayees("between 1 and 8 payees");
        if (shares.length != n) revert InvalidPayees("one share per payee");
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            if (payees[i] == address(0)) revert InvalidPayees("zero address payee");
            if (shares[i] == 0) revert InvalidPayees("zero share");
            for (uint256 j; j < i; ++j) {
                if (payees[j] == payees[i]) revert InvalidPayees("duplicate payee");
            }
            sum += shares[i];
        }
        if (sum != BPS) revert InvalidPayees("shares must sum to 10000");
    }

    /// @dev Union of the parents (with their own royalty) and their flattened ancestors, sorted by id.
    /// Ancestors that ask no royalty are left out of the payment vector. Bounded: at most 8 parents of
    /// at most 32 ancestors each, inserted into a list of at most 32.
    function _flatten(uint256[] calldata parents) internal view returns (bytes memory out) {
        uint256 np = parents.length;
        if (np > MAX_PARENTS) revert TooManyParents(np, MAX_PARENTS);
        uint256[] memory ids = new uint256[](MAX_ANCESTORS);
        uint256[] memory bps = new uint256[](MAX_ANCESTORS);
        uint256 n;
        for (uint256 i; i < np; ++i) {
            uint256 parent = parents[i];
            _requireExists(parent);
            for (uint256 j; j < i; ++j) {
                if (parents[j] == parent) revert DuplicateParent(parent);
            }
            Asset storage pa = _assets[parent];
            n = _insert(ids, bps, n, parent, pa.royaltyBps);
            bytes memory lin = pa.lineage;
            uint256 count = lin.length / 10;
            for (uint256 k; k < count; ++k) {
                uint256 word;
                assembly ("memory-safe") {
                    word := mload(add(add(lin, 32), mul(k, 10)))
                }
                n = _insert(ids, bps, n, word >> 192, (word >> 176) & 0xffff);
            }
        }
        uint256 total;
        out = new bytes(n * 10);
        for (uint256 i; i < n; ++i) {
            total += bps[i];
            uint256 packed = (ids[i] << 192) | (bps[i] << 176);
            // entries are written in order, so the zero tail of each 32-byte store is overwritten by the
            // next entry; the last tail lands in the zeroed padding or in free memory
            assembly ("memory-safe") {
                mstore(add(add(out, 32), mul(i, 10)), packed)
            }
        }
        if (total > MAX_LINEAGE_BPS) revert LineageTooExpensive(total, MAX_LINEAGE_BPS);
    }

    function _insert(uint256[] memory ids, uint256[] memory bps, uint256 n, uint256 id, uint256 royalty)
        internal
        pure
        returns (uint256)
    {
        if (royalty == 0) return n;
        uint256 pos = n;
        for (uint256 i; i < n; ++i) {
            if (ids[i] == id) return n;
            if (ids[i] > id) {
                pos = i;
                break;
            }
        }
        if (n == MAX_ANCESTORS) revert TooManyAncestors(n + 1, MAX_ANCESTORS);
        for (uint256 i = n; i > pos; --i) {
            ids[i] = ids[i - 1];
            bps[i] = bps[i - 1];
        }
        ids[pos] = id;
        bps[pos] = royalty;
        return n + 1;
    }
}
