// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "./Test.sol";
import {Ledger} from "../../src/Ledger.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {TestStablecoin} from "../../src/TestStablecoin.sol";

/// @notice A deployed market (stablecoin, registry, ledger) plus the helpers every suite needs to
/// register assets, fund payers, open lanes, and build and sign the packed settlement calldata.
abstract contract Fixture is Test {
    uint256 internal constant RECLAIM_DELAY = 1 days;
    uint96 internal constant PRICE = 1_000;
    uint40 internal constant T0 = 1_000_000;

    TestStablecoin internal token;
    ModelRegistry internal registry;
    Ledger internal ledger;

    address internal alice;
    uint256 internal aliceKey;
    address internal bob;
    uint256 internal bobKey;
    address internal creator;
    address internal provider;
    address internal payee;

    function setUp() public virtual {
        vm.warp(T0);
        (alice, aliceKey) = makeAddrAndKey("alice");
        (bob, bobKey) = makeAddrAndKey("bob");
        creator = makeAddr("creator");
        provider = makeAddr("provider");
        payee = makeAddr("payee");

        token = new TestStablecoin();
        registry = new ModelRegistry(address(this));
        ledger = new Ledger(registry, RECLAIM_DELAY, address(this));
        registry.setLedger(ledger);
        ledger.setTokenAllowed(address(token), true);
    }

    // ------------------------------------------------------------------------------- registration

    function _ids() internal pure returns (uint256[] memory a) {}

    function _ids(uint256 x) internal pure returns (uint256[] memory a) {
        a = new uint256[](1);
        a[0] = x;
    }

    function _ids(uint256 x, uint256 y) internal pure returns (uint256[] memory a) {
        a = new uint256[](2);
        a[0] = x;
        a[1] = y;
    }

    function _addrs(address x) internal pure returns (address[] memory a) {
        a = new address[](1);
        a[0] = x;
    }

    function _addrs(address x, address y) internal pure returns (address[] memory a) {
        a = new address[](2);
        a[0] = x;
        a[1] = y;
    }

    function _shares(uint16 x) internal pure returns (uint16[] memory a) {
        a = new uint16[](1);
        a[0] = x;
    }

    function _shares(uint16 x, uint16 y) internal pure returns (uint16[] memory a) {
        a = new uint16[](2);
        a[0] = x;
        a[1] = y;
    }

    function _terms(uint96 price) internal view returns (ModelRegistry.Terms memory) {
        return ModelRegistry.Terms(address(token), price, 0, 0);
    }

    /// @dev A valid registration: a model paid in the fixture token, one payee, the given royalty and parents.
    function _params(uint16 royalty, uint256[] memory parents)
        internal
        view
        returns (ModelRegistry.RegisterParams memory p)
    {
        p.kind = 0;
        p.cardURI = "ipfs://card";
        p.cardHash = keccak256("card");
        p.terms = _terms(PRICE);
        p.payees = _addrs(payee);
        p.shares = _shares(10_000);
        p.royaltyBps = royalty;
        p.parents = parents;
    }

    function _register(ModelRegistry.RegisterParams memory p) internal returns (uint256 id) {
        vm.prank(creator);
        id = registry.register(p);
    }

    function _register(uint16 royalty, uint256[] memory parents) internal returns (uint256) {
        return _register(_params(royalty, parents));
    }

    /// @dev An asset whose flattened lineage has exactly 32 ancestors of 1 bps each (it asks 0 itself).
    function _lineageOf32() internal returns (uint256 top) {
        uint256[] memory parents = new uint256[](8);
        for (uint256 i; i < 8; ++i) {
            parents[i] = _register(1, _ids());
        }
        uint256 layer = _register(1, parents); // 9 ancestors incl. itself
        for (uint256 k; k < 3; ++k) {
            uint256[] memory next = new uint256[](8);
            next[0] = layer;
            for (uint256 i = 1; i < 8; ++i) {
                next[i] = _register(1, _ids());
            }
            layer = _register(k == 2 ? 0 : 1, next);
        }
        // 8 + 1 + (7 + 1) + (7 + 1) + 7 = 32
        top = layer;
    }

    // ------------------------------------------------------------------------------------- escrow

    function _fund(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.startPrank(who);
        token.approve(address(ledger), type(uint256).max);
        ledger.deposit(address(token), amount);
        vm.stopPrank();
    }

    // -------------------------------------------------------------------------------------- lanes

    /// @dev Opens a lane from existing escrow and rebuilds its key the way a client would from
    /// LaneOpened: the seq is the lane counter right after the open.
    function _open(address who, uint256 modelId, uint96 cap, uint40 expiresAt)
        internal
        returns (Ledger.LaneKey memory key, bytes32 laneId)
    {
        (address tok,, uint32 termsVersion, bytes32 lineageHash) = registry.licenseInfo(modelId);
        vm.prank(who);
        laneId = ledger.openLicense(modelId, cap, expiresAt, type(uint96).max, 0);
        key = Ledger.LaneKey(who, tok, uint64(modelId), termsVersion, lineageHash, ledger.laneCount());
        assertEq(ledger.laneIdOf(key), laneId, "lane id preimage");
    }

    function _open(address who, uint256 modelId, uint96 cap) internal returns (Ledger.LaneKey memory, bytes32) {
        return _open(who, modelId, cap, T0 + 1 days);
    }

    /// @dev The packed lane entry of `settle` / `redeem`, with the model's stored ancestor vector.
    function _entry(Ledger.LaneKey memory key, uint96 cumulative) internal view returns (bytes memory) {
        return _entry(key, cumulative, registry.lineageOf(key.modelId));
    }

    function _entry(Ledger.LaneKey memory key, uint96 cumulative, bytes memory lineage)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodePacked(key.modelId, key.termsVersion, key.seq, cumulative, uint8(lineage.length / 10), lineage);
    }

    function _sign(uint256 key, bytes32 digest) internal returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _voucher(uint256 key, bytes32 laneId, uint256 cumulative) internal returns (bytes memory) {
        return _sign(key, ledger.voucherDigest(laneId, cumulative));
    }

    /// @dev The EIP-712 voucher digest under an arbitrary domain, to forge signatures for another
    /// chain or another ledger.
    function _digestFor(uint256 chainId, address verifyingContract, bytes32 laneId, uint256 cumulative)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("tributary"),
                keccak256("1"),
                chainId,
                verifyingContract
            )
        );
        bytes32 structHash =
            keccak256(abi.encode(keccak256("Voucher(bytes32 laneId,uint256 cumulative)"), laneId, cumulative));
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    /// @dev One 20-byte attribution entry of the Settled event: the model a lane (or a flat-fee purchase)
    /// paid and the amount it moved; ancestors' credits follow from the model's lineage.
    function _charged(uint256 modelId, uint256 amount) internal pure returns (bytes memory) {
        return abi.encodePacked(uint64(modelId), uint96(amount));
    }

    function _claimed(bytes32 laneId) internal view returns (uint256) {
        return ledger.laneState(laneId).claimed;
    }
}
