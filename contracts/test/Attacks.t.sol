// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./utils/Fixture.sol";
import {Ledger} from "../src/Ledger.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {HookToken} from "./mocks/HookToken.sol";
import {FeeOnTransferToken} from "./mocks/FeeOnTransferToken.sol";
import {Reenterer} from "./mocks/Reenterer.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @notice Attacks on the money path that must fail, each with the exact error it must fail with.
contract AttacksTest is Fixture {
    uint256 internal base;
    uint256 internal model; // derived from base (10%)

    function setUp() public override {
        super.setUp();
        base = _register(1_000, _ids());
        model = _register(0, _ids(base));
    }

    // ---------------------------------------------------------------------------------- reentrancy

    function _hooked() internal returns (HookToken hook, Reenterer attacker) {
        hook = new HookToken();
        ledger.setTokenAllowed(address(hook), true);
        attacker = new Reenterer(ledger, hook);
        hook.setHooked(address(attacker), true);
        hook.mint(address(attacker), 1_000);
        attacker.deposit(1_000);
    }

    function test_reentrantToken_withdrawEscrowCannotDoubleSpend() public {
        (HookToken hook, Reenterer attacker) = _hooked();
        attacker.arm(Reenterer.Mode.WithdrawEscrow, false);
        vm.expectRevert(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector));
        attacker.withdrawEscrow(1_000);
        assertEq(ledger.escrowOf(address(hook), address(attacker)), 1_000);
        assertEq(hook.balanceOf(address(ledger)), 1_000);

        // even when the attacker swallows the guard's revert, it is paid exactly once
        attacker.arm(Reenterer.Mode.WithdrawEscrow, true);
        attacker.withdrawEscrow(1_000);
        assertEq(attacker.attempts(), 1, "the reverted first attempt left no trace");
        assertEq(
            attacker.innerError(),
            abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)
        );
        assertEq(hook.balanceOf(address(attacker)), 1_000);
        assertEq(hook.balanceOf(address(ledger)), 0);
        assertEq(ledger.escrowOf(address(hook), address(attacker)), 0);
    }

    function test_reentrantToken_depositIsGuarded() public {
        (HookToken hook, Reenterer attacker) = _hooked();
        attacker.withdrawEscrow(1_000);
        attacker.arm(Reenterer.Mode.Deposit, false);
        vm.expectRevert(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector));
        attacker.deposit(500);
        assertEq(ledger.escrowOf(address(hook), address(attacker)), 0);
        assertEq(hook.balanceOf(address(ledger)), 0);
    }

    function test_reentrantToken_payeeWithdrawCannotDoubleSpend() public {
        (HookToken hook, Reenterer attacker) = _hooked();
        // the attacker lists a model paid in its token, with itself as payee, and pays itself
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.terms.token = address(hook);
        p.payees = _addrs(address(attacker));
        uint256 id = _register(p);
        (,, uint32 tv, bytes32 lh) = registry.licenseInfo(id);
        vm.prank(address(attacker));
        ledger.openLicense(id, 600, T0 + 1 days, PRICE, 0);
        Ledger.LaneKey memory key =
            Ledger.LaneKey(address(attacker), address(hook), uint64(id), tv, lh, ledger.laneCount());
        bytes memory lanes = _entry(key, 600);
        vm.prank(address(attacker));
        ledger.redeem(address(attacker), address(hook), lanes, "");
        ledger.distribute(id, address(hook));
        assertEq(ledger.balanceOf(address(hook), address(attacker)), 600);

        attacker.arm(Reenterer.Mode.Withdraw, false);
        vm.expectRevert(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector));
        attacker.withdraw();
        assertEq(ledger.balanceOf(address(hook), address(attacker)), 600);

        attacker.arm(Reenterer.Mode.Withdraw, true);
        assertEq(attacker.withdraw(), 600);
        assertEq(hook.balanceOf(address(attacker)), 600);
        assertEq(hook.balanceOf(address(ledger)), 400, "the other 400 stay in the attacker's escrow");
        assertEq(ledger.escrowOf(address(hook), address(attacker)), 400);
    }

    // ------------------------------------------------------------------------------ fee on transfer

    function test_feeOnTransferToken_depositRefused() public {
        FeeOnTransferToken fee = new FeeOnTransferToken();
        ledger.setTokenAllowed(address(fee), true);
        fee.mint(alice, 1_000);
        vm.startPrank(alice);
        fee.approve(address(ledger), type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(Ledger.FeeOnTransferToken.selector, address(fee), 1_000, 990));
        ledger.deposit(address(fee), 1_000);
        vm.stopPrank();
        assertEq(ledger.escrowOf(address(fee), alice), 0);
        assertEq(fee.balanceOf(address(ledger)), 0);
    }

    function test_feeOnTransferToken_depositInsideOpenLicenseRefused() public {
        FeeOnTransferToken fee = new FeeOnTransferToken();
        ledger.setTokenAllowed(address(fee), true);
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.terms.token = address(fee);
        uint256 id = _register(p);
        fee.mint(alice, 1_000);
        vm.startPrank(alice);
        fee.approve(address(ledger), type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(Ledger.FeeOnTransferToken.selector, address(fee), 500, 495));
        ledger.openLicense(id, 100, T0 + 1, PRICE, 500);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------------------------- signatures

    function test_voucherForAnotherChainIsRejected() public {
        (Ledger.LaneKey memory key, bytes32 laneId) = _aliceLane(1_000);
        bytes memory lanes = _entry(key, 100);
        bytes memory forged = _sign(aliceKey, _digestFor(block.chainid + 1, address(ledger), laneId, 100));
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, laneId));
        ledger.redeem(alice, address(token), lanes, forged);

        // the same, signed through the ledger itself while the chain id was different (a fork)
        uint256 here = block.chainid;
        vm.chainId(here + 7);
        bytes memory forkSig = _voucher(aliceKey, laneId, 100);
        vm.chainId(here);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, laneId));
        ledger.redeem(alice, address(token), lanes, forkSig);

        // control: the right domain is accepted
        bytes memory good = _sign(aliceKey, _digestFor(here, address(ledger), laneId, 100));
        vm.prank(provider);
        assertEq(ledger.redeem(alice, address(token), lanes, good), 100);
    }

    function test_voucherForAnotherLedgerIsRejected() public {
        Ledger twin = new Ledger(registry, RECLAIM_DELAY, address(this));
        (Ledger.LaneKey memory key, bytes32 laneId) = _aliceLane(1_000);
        bytes memory lanes = _entry(key, 100);
        bytes memory twinSig = _sign(aliceKey, twin.voucherDigest(laneId, 100));
        bytes memory forged = _sign(aliceKey, _digestFor(block.chainid, address(twin), laneId, 100));
        assertEq(twinSig, forged);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, laneId));
        ledger.redeem(alice, address(token), lanes, forged);
    }

    /// @dev The (r, n - s) twin of a valid signature must not be a second valid voucher.
    function test_malleableSignatureIsRejected() public {
        (Ledger.LaneKey memory key, bytes32 laneId) = _aliceLane(1_000);
        bytes memory lanes = _entry(key, 100);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(aliceKey, ledger.voucherDigest(laneId, 100));
        uint256 n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        bytes memory twin = abi.encodePacked(r, bytes32(n - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, laneId));
        ledger.redeem(alice, address(token), lanes, twin);
    }

    function test_voucherForAnotherLaneIsRejected() public {
        (Ledger.LaneKey memory k1, bytes32 id1) = _aliceLane(1_000);
        (, bytes32 id2) = _aliceLane(1_000);
        bytes memory lanes = _entry(k1, 100);
        bytes memory sig = _voucher(aliceKey, id2, 100);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, id1));
        ledger.redeem(alice, address(token), lanes, sig);
    }

    // ------------------------------------------------------------------------------------- expiry

    function test_expiredLane_cannotBeSettledAndReclaimWaits() public {
        (Ledger.LaneKey memory key, bytes32 laneId) = _aliceLane(1_000);
        bytes memory lanes = _entry(key, 100);
        bytes memory sig = _voucher(aliceKey, laneId, 100);
        uint256 expiry = T0 + 1 days;

        // after expiry the payer cannot reclaim yet: the provider's redemption window is still open
        vm.warp(expiry);
        vm.expectRevert(abi.encodeWithSelector(Ledger.LaneNotReclaimable.selector, laneId, expiry + RECLAIM_DELAY));
        ledger.reclaim(key);

        vm.warp(expiry + RECLAIM_DELAY);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.LaneExpired.selector, laneId, uint40(expiry)));
        ledger.redeem(alice, address(token), lanes, sig);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.LaneExpired.selector, laneId, uint40(expiry)));
        ledger.settle(alice, address(token), 100, keccak256("late"), lanes, "");

        assertEq(ledger.reclaim(key), 1_000);
        assertEq(ledger.escrowOf(address(token), alice), 1_000);
    }

    // -------------------------------------------------------------------------- someone else's lane

    function test_othersLane_needsThePayersSignature() public {
        (Ledger.LaneKey memory key, bytes32 laneId) = _aliceLane(1_000);
        bytes memory lanes = _entry(key, 1_000);
        bytes memory bobSig = _voucher(bobKey, laneId, 1_000);

        vm.startPrank(bob);
        vm.expectRevert(abi.encodeWithSelector(Ledger.MissingSignatures.selector, 1, 0));
        ledger.settle(alice, address(token), 1_000, keccak256("steal"), lanes, "");
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, laneId));
        ledger.settle(alice, address(token), 1_000, keccak256("steal"), lanes, bobSig);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, laneId));
        ledger.redeem(alice, address(token), lanes, bobSig);
        vm.expectRevert(abi.encodeWithSelector(Ledger.NotLanePayer.selector, laneId, bob));
        ledger.topUpLicense(key, 0, T0 + 100 days, 0);
        vm.stopPrank();
        assertEq(_claimed(laneId), 0);
        assertEq(ledger.laneState(laneId).expiresAt, T0 + 1 days);
    }

    /// @dev Anyone may trigger a reclaim, but the refund only ever reaches the payer's escrow.
    function test_othersLane_reclaimRefundsOnlyThePayer() public {
        (Ledger.LaneKey memory key,) = _aliceLane(1_000);
        vm.warp(T0 + 1 days + RECLAIM_DELAY);
        vm.prank(bob);
        ledger.reclaim(key);
        assertEq(ledger.escrowOf(address(token), alice), 1_000);
        assertEq(ledger.escrowOf(address(token), bob), 0);
        // a key naming bob as payer of alice's lane names no lane
        Ledger.LaneKey memory asBob =
            Ledger.LaneKey(bob, key.token, key.modelId, key.termsVersion, key.lineageHash, key.seq);
        bytes32 bobId = ledger.laneIdOf(asBob);
        vm.expectRevert(abi.encodeWithSelector(Ledger.UnknownLane.selector, bobId));
        ledger.reclaim(asBob);
    }

    // ---------------------------------------------------------------------------- replay and caps

    function test_receiptRootSettledTwice() public {
        (Ledger.LaneKey memory key,) = _aliceLane(1_000);
        bytes memory first = _entry(key, 100);
        bytes memory second = _entry(key, 200);
        vm.startPrank(alice);
        ledger.settle(alice, address(token), 100, keccak256("run-1"), first, "");
        vm.expectRevert(abi.encodeWithSelector(Ledger.RootAlreadySettled.selector, keccak256("run-1")));
        ledger.settle(alice, address(token), 100, keccak256("run-1"), second, "");
        vm.stopPrank();
    }

    function test_replayedAndStaleVouchersAreWorthNothing() public {
        (Ledger.LaneKey memory key, bytes32 laneId) = _aliceLane(1_000);
        bytes memory l300 = _entry(key, 300);
        bytes memory s300 = _voucher(aliceKey, laneId, 300);
        bytes memory l200 = _entry(key, 200);
        bytes memory s200 = _voucher(aliceKey, laneId, 200);
        vm.startPrank(provider);
        ledger.redeem(alice, address(token), l300, s300);
        vm.expectRevert(abi.encodeWithSelector(Ledger.VoucherNotNewer.selector, laneId, 300, 300));
        ledger.redeem(alice, address(token), l300, s300);
        vm.expectRevert(abi.encodeWithSelector(Ledger.VoucherNotNewer.selector, laneId, 200, 300));
        ledger.redeem(alice, address(token), l200, s200);
        // the same voucher twice in one transaction is also a replay
        bytes memory l400 = _entry(key, 400);
        bytes memory s400 = _voucher(aliceKey, laneId, 400);
        vm.expectRevert(abi.encodeWithSelector(Ledger.VoucherNotNewer.selector, laneId, 400, 400));
        ledger.redeem(alice, address(token), abi.encodePacked(l400, l400), abi.encodePacked(s400, s400));
        vm.stopPrank();
        assertEq(_claimed(laneId), 300);
        assertEq(ledger.creditOf(address(token), model) + ledger.creditOf(address(token), base), 300);
    }

    function test_overCapVoucher() public {
        (Ledger.LaneKey memory key, bytes32 laneId) = _aliceLane(1_000);
        bytes memory lanes = _entry(key, 1_001);
        bytes memory sig = _voucher(aliceKey, laneId, 1_001);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.LaneOverdrawn.selector, laneId, 1_001, 1_000));
        ledger.redeem(alice, address(token), lanes, sig);
    }

    /// @dev Dropping an ancestor or lowering its share changes the lineage hash, so the entry names no lane.
    function test_wrongAncestorVectorNamesNoLane() public {
        (Ledger.LaneKey memory key, bytes32 laneId) = _aliceLane(1_000);
        bytes memory noAncestors = _entry(key, 100, "");
        bytes memory cheaper = abi.encodePacked(uint64(base), uint16(1));
        bytes memory lowered = _entry(key, 100, cheaper);
        bytes32 idNone = ledger.laneIdOf(_withLineage(key, keccak256("")));
        bytes32 idCheap = ledger.laneIdOf(_withLineage(key, keccak256(cheaper)));
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.UnknownLane.selector, idNone));
        ledger.settle(alice, address(token), 100, keccak256("r"), noAncestors, "");
        vm.expectRevert(abi.encodeWithSelector(Ledger.UnknownLane.selector, idCheap));
        ledger.settle(alice, address(token), 100, keccak256("r"), lowered, "");
        vm.stopPrank();
        assertEq(_claimed(laneId), 0);
    }

    // -------------------------------------------------------------------------------------- lineage

    function test_lineageOverTheCapsOrCyclicIsRefused() public {
        uint256[] memory many = new uint256[](8);
        for (uint256 i; i < 8; ++i) {
            many[i] = _register(700, _ids());
        }
        // 8 x 700 = 5600 bps of royalties
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.LineageTooExpensive.selector, 5_600, 5_000));
        _register(0, many);

        uint256 next = registry.assetCount() + 1;
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAsset.selector, next));
        _register(0, _ids(base, next));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.DuplicateParent.selector, base));
        _register(0, _ids(base, base));
    }

    function test_lineageOf33AncestorsIsRefused() public {
        uint256 layer = _lineageOf32();
        assertEq(registry.lineageOf(layer).length, 320);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.TooManyAncestors.selector, 33, 32));
        _register(0, _ids(layer, base));
    }

    // ------------------------------------------------------------------------------------- helpers

    function _aliceLane(uint96 cap) internal returns (Ledger.LaneKey memory, bytes32) {
        _fund(alice, cap);
        return _open(alice, model, cap);
    }

    function _withLineage(Ledger.LaneKey memory k, bytes32 h) internal pure returns (Ledger.LaneKey memory) {
        return Ledger.LaneKey(k.payer, k.token, k.modelId, k.termsVersion, h, k.seq);
    }
}
