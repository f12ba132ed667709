// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./utils/Fixture.sol";
import {Ledger} from "../src/Ledger.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {Erc1271Wallet} from "./mocks/Erc1271Wallet.sol";

/// @notice settle, redeem, buyPeriod, distribute, withdraw and creditOf.
contract LedgerSettleTest is Fixture {
    uint256 internal base; // asks 10% of derivatives
    uint256 internal adapter; // asks 5%, derived from base
    uint256 internal model; // derived from adapter: pays base 10% and adapter 5%
    uint256 internal other; // an unrelated root

    bytes32 internal constant ROOT = keccak256("receipt root");

    function setUp() public override {
        super.setUp();
        base = _register(1_000, _ids());
        adapter = _register(500, _ids(base));
        model = _register(0, _ids(adapter));
        other = _register(0, _ids());
    }

    // ------------------------------------------------------------------------------------- settle

    function test_settle_creditsModelAndAncestors() public {
        _fund(alice, 10_000);
        (Ledger.LaneKey memory key, bytes32 laneId) = _open(alice, model, 10_000);
        bytes memory lanes = _entry(key, 1_999);
        // 1999 x 10% = 199.9 -> 199, 1999 x 5% = 99.95 -> 99, the model keeps 1999 - 298 = 1701
        bytes memory attribution = _charged(model, 1_999);

        vm.expectEmit(true, true, true, true, address(ledger));
        emit Ledger.Settled(ROOT, alice, address(token), 1_999, attribution);
        vm.prank(alice);
        ledger.settle(alice, address(token), 1_999, ROOT, lanes, "");

        assertEq(ledger.creditOf(address(token), model), 1_701);
        assertEq(ledger.creditOf(address(token), base), 199);
        assertEq(ledger.creditOf(address(token), adapter), 99);
        assertEq(_claimed(laneId), 1_999);
        assertTrue(ledger.rootSettled(alice, ROOT));
        assertEq(ledger.escrowOf(address(token), alice), 0);
        assertEq(token.balanceOf(address(ledger)), 10_000, "nothing leaves the ledger on settlement");
    }

    /// @dev Cumulative vouchers: a second settlement moves only the difference.
    function test_settle_movesOnlyTheDelta() public {
        _fund(alice, 10_000);
        (Ledger.LaneKey memory key,) = _open(alice, other, 10_000);
        bytes memory first = _entry(key, 300);
        bytes memory second = _entry(key, 1_000);
        vm.startPrank(alice);
        ledger.settle(alice, address(token), 300, keccak256("r1"), first, "");
        ledger.settle(alice, address(token), 700, keccak256("r2"), second, "");
        vm.stopPrank();
        assertEq(ledger.creditOf(address(token), other), 1_000);
    }

    function test_settle_manyLanesInOneTransaction() public {
        _fund(alice, 10_000);
        (Ledger.LaneKey memory k1, bytes32 id1) = _open(alice, model, 5_000);
        (Ledger.LaneKey memory k2, bytes32 id2) = _open(alice, other, 4_999);
        (Ledger.LaneKey memory k3,) = _open(alice, base, 1);
        bytes memory lanes = abi.encodePacked(_entry(k1, 1_000), _entry(k2, 2_000), _entry(k3, 1));
        bytes memory attribution = abi.encodePacked(_charged(model, 1_000), _charged(other, 2_000), _charged(base, 1));
        vm.expectEmit(true, true, true, true, address(ledger));
        emit Ledger.Settled(ROOT, alice, address(token), 3_001, attribution);
        vm.prank(alice);
        ledger.settle(alice, address(token), 3_001, ROOT, lanes, "");
        assertEq(_claimed(id1), 1_000);
        assertEq(_claimed(id2), 2_000);
        assertEq(ledger.creditOf(address(token), base), 101, "base as ancestor and as model");
        assertEq(ledger.creditOf(address(token), other), 2_000);
    }

    /// @dev The widest lane (32 ancestors, the most lineage bytes a lane can carry) next to a plain one,
    /// settled by a third party: every one of the 34 credits is exact.
    function test_settle_widestLineageAlongsideAnotherLane() public {
        uint256 deep = _lineageOf32();
        bytes memory lineage = registry.lineageOf(deep);
        assertEq(lineage.length, 320);
        _fund(alice, 2_000_000);
        (Ledger.LaneKey memory k1, bytes32 id1) = _open(alice, deep, 1_000_000);
        (Ledger.LaneKey memory k2, bytes32 id2) = _open(alice, other, 1_000_000);
        bytes memory lanes = abi.encodePacked(_entry(k1, 999_999), _entry(k2, 77));
        bytes memory sigs = abi.encodePacked(_voucher(aliceKey, id1, 999_999), _voucher(aliceKey, id2, 77));
        vm.prank(provider);
        ledger.settle(alice, address(token), 999_999 + 77, ROOT, lanes, sigs);

        uint256 sum;
        for (uint256 i; i < 32; ++i) {
            uint256 ancestor = uint64(bytes8(_slice(lineage, i * 10, 8)));
            // every ancestor asks 1 bps: floor(999 999 / 10 000) = 99
            assertEq(ledger.creditOf(address(token), ancestor), 99, "ancestor credit", i);
            sum += 99;
        }
        assertEq(ledger.creditOf(address(token), deep), 999_999 - sum);
        assertEq(ledger.creditOf(address(token), other), 77);
    }

    function _slice(bytes memory b, uint256 start, uint256 len) internal pure returns (bytes memory out) {
        out = new bytes(len);
        for (uint256 i; i < len; ++i) {
            out[i] = b[start + i];
        }
    }

    /// @dev A provider settles with the payer's vouchers, one signature per lane in lane order.
    function test_settle_byThirdPartyWithSignatures() public {
        _fund(alice, 10_000);
        (Ledger.LaneKey memory k1, bytes32 id1) = _open(alice, model, 5_000);
        (Ledger.LaneKey memory k2, bytes32 id2) = _open(alice, other, 5_000);
        bytes memory lanes = abi.encodePacked(_entry(k1, 400), _entry(k2, 600));
        bytes memory sigs = abi.encodePacked(_voucher(aliceKey, id1, 400), _voucher(aliceKey, id2, 600));
        vm.prank(provider);
        ledger.settle(alice, address(token), 1_000, ROOT, lanes, sigs);
        assertEq(_claimed(id1), 400);
        assertEq(_claimed(id2), 600);

        // swapped signatures do not match their lanes
        lanes = abi.encodePacked(_entry(k1, 500), _entry(k2, 700));
        sigs = abi.encodePacked(_voucher(aliceKey, id2, 700), _voucher(aliceKey, id1, 500));
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, id1));
        ledger.settle(alice, address(token), 200, keccak256("r2"), lanes, sigs);
    }

    function test_settle_rejectsZeroRootReplayedRootAndWrongTotal() public {
        _fund(alice, 10_000);
        (Ledger.LaneKey memory key, bytes32 laneId) = _open(alice, other, 10_000);
        bytes memory lanes = _entry(key, 100);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.ZeroReceiptRoot.selector));
        ledger.settle(alice, address(token), 100, bytes32(0), lanes, "");
        vm.expectRevert(abi.encodeWithSelector(Ledger.TotalMismatch.selector, 99, 100));
        ledger.settle(alice, address(token), 99, ROOT, lanes, "");
        assertFalse(ledger.rootSettled(alice, ROOT));

        ledger.settle(alice, address(token), 100, ROOT, lanes, "");
        lanes = _entry(key, 200);
        vm.expectRevert(abi.encodeWithSelector(Ledger.RootAlreadySettled.selector, ROOT));
        ledger.settle(alice, address(token), 100, ROOT, lanes, "");
        vm.stopPrank();
        assertEq(_claimed(laneId), 100);
    }

    /// @dev A stranger settling an empty run under someone's receipt root (seen in the mempool) must
    /// not stop that payer from settling it; the root is recorded per payer.
    function test_settle_strangerCannotBurnAPayersRoot() public {
        _fund(alice, 1_000);
        (Ledger.LaneKey memory key, bytes32 laneId) = _open(alice, other, 1_000);
        bytes memory lanes = _entry(key, 100);
        // naming alice as payer without a single signed lane records nothing
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(Ledger.MalformedLanes.selector, 0));
        ledger.settle(alice, address(token), 0, ROOT, "", "");
        // bob may record the same root for himself (a payer may settle a run whose lanes were all redeemed)
        vm.prank(bob);
        ledger.settle(bob, address(token), 0, ROOT, "", "");
        assertTrue(ledger.rootSettled(bob, ROOT));
        assertFalse(ledger.rootSettled(alice, ROOT));

        vm.prank(alice);
        ledger.settle(alice, address(token), 100, ROOT, lanes, "");
        assertEq(_claimed(laneId), 100);
        assertTrue(ledger.rootSettled(alice, ROOT));
    }

    function test_settle_rejectsMissingOrExtraSignatures() public {
        _fund(alice, 10_000);
        (Ledger.LaneKey memory k1, bytes32 id1) = _open(alice, other, 5_000);
        (Ledger.LaneKey memory k2, bytes32 id2) = _open(alice, other, 5_000);
        bytes memory lanes = abi.encodePacked(_entry(k1, 10), _entry(k2, 10));
        bytes memory one = _voucher(aliceKey, id1, 10);
        bytes memory three = abi.encodePacked(one, _voucher(aliceKey, id2, 10), one);

        vm.startPrank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.MissingSignatures.selector, 1, 0));
        ledger.settle(alice, address(token), 20, ROOT, lanes, "");
        vm.expectRevert(abi.encodeWithSelector(Ledger.MissingSignatures.selector, 2, 1));
        ledger.settle(alice, address(token), 20, ROOT, lanes, one);
        vm.expectRevert(abi.encodeWithSelector(Ledger.MissingSignatures.selector, 2, 3));
        ledger.settle(alice, address(token), 20, ROOT, lanes, three);
        vm.stopPrank();
    }

    function test_settle_rejectsMalformedLanes() public {
        _fund(alice, 10_000);
        (Ledger.LaneKey memory key,) = _open(alice, model, 10_000);
        bytes memory good = _entry(key, 10);
        bytes memory shortHead = new bytes(32);
        bytes memory truncated = new bytes(good.length - 1);
        for (uint256 i; i < truncated.length; ++i) {
            truncated[i] = good[i];
        }
        bytes memory trailing = abi.encodePacked(good, uint8(1));
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.MalformedLanes.selector, 0));
        ledger.settle(alice, address(token), 0, ROOT, shortHead, "");
        vm.expectRevert(abi.encodeWithSelector(Ledger.MalformedLanes.selector, 0));
        ledger.settle(alice, address(token), 10, ROOT, truncated, "");
        vm.expectRevert(abi.encodeWithSelector(Ledger.MalformedLanes.selector, good.length));
        ledger.settle(alice, address(token), 10, ROOT, trailing, "");
        vm.stopPrank();
    }

    function test_settle_rejectsOversizedAncestorCount() public {
        _fund(alice, 10_000);
        (Ledger.LaneKey memory key,) = _open(alice, other, 10_000);
        bytes memory lanes =
            abi.encodePacked(key.modelId, key.termsVersion, key.seq, uint96(1), uint8(33), new bytes(330));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.TooManyAncestors.selector, 33, 32));
        ledger.settle(alice, address(token), 1, ROOT, lanes, "");
    }

    /// @dev Every lane named costs a bounded loop: at most 64 per settlement.
    function test_settle_rejectsMoreThan64Lanes() public {
        _fund(alice, 65);
        bytes memory lanes;
        for (uint256 i; i < 65; ++i) {
            (Ledger.LaneKey memory key,) = _open(alice, other, 1);
            lanes = abi.encodePacked(lanes, _entry(key, 1));
        }
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.TooManyLanes.selector, 65, 64));
        ledger.settle(alice, address(token), 65, ROOT, lanes, "");
    }

    function test_settle_acceptsExactly64Lanes() public {
        _fund(alice, 64);
        bytes memory lanes;
        for (uint256 i; i < 64; ++i) {
            (Ledger.LaneKey memory key,) = _open(alice, other, 1);
            lanes = abi.encodePacked(lanes, _entry(key, 1));
        }
        vm.prank(alice);
        ledger.settle(alice, address(token), 64, ROOT, lanes, "");
        assertEq(ledger.creditOf(address(token), other), 64);
    }

    function test_settle_wrongTokenOrPayerNamesNoLane() public {
        _fund(alice, 1_000);
        (Ledger.LaneKey memory key,) = _open(alice, other, 1_000);
        bytes memory lanes = _entry(key, 10);
        // the lane id binds the payer and the token given as arguments
        Ledger.LaneKey memory asBob =
            Ledger.LaneKey(bob, key.token, key.modelId, key.termsVersion, key.lineageHash, key.seq);
        Ledger.LaneKey memory asOtherToken =
            Ledger.LaneKey(alice, address(0xdead), key.modelId, key.termsVersion, key.lineageHash, key.seq);
        bytes32 bobId = ledger.laneIdOf(asBob);
        bytes32 tokId = ledger.laneIdOf(asOtherToken);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(Ledger.UnknownLane.selector, bobId));
        ledger.settle(bob, address(token), 10, ROOT, lanes, "");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.UnknownLane.selector, tokId));
        ledger.settle(alice, address(0xdead), 10, ROOT, lanes, "");
    }

    // ------------------------------------------------------------------------------------- redeem

    function test_redeem_byProviderWithNewestVoucher() public {
        _fund(alice, 1_000);
        (Ledger.LaneKey memory key, bytes32 laneId) = _open(alice, model, 1_000);
        bytes memory lanes = _entry(key, 100);
        bytes memory sig = _voucher(aliceKey, laneId, 100);
        bytes memory attribution = _charged(model, 100);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit Ledger.Settled(bytes32(0), alice, address(token), 100, attribution);
        vm.prank(provider);
        uint256 total = ledger.redeem(alice, address(token), lanes, sig);
        assertEq(total, 100);
        assertEq(_claimed(laneId), 100);
        assertEq(ledger.creditOf(address(token), model), 85);
    }

    function test_redeem_rejectsStaleOverdrawnAndForeignVouchers() public {
        _fund(alice, 1_000);
        (Ledger.LaneKey memory key, bytes32 laneId) = _open(alice, other, 1_000);
        bytes memory l500 = _entry(key, 500);
        bytes memory s500 = _voucher(aliceKey, laneId, 500);
        vm.prank(provider);
        ledger.redeem(alice, address(token), l500, s500);

        bytes memory l400 = _entry(key, 400);
        bytes memory s400 = _voucher(aliceKey, laneId, 400);
        bytes memory l1001 = _entry(key, 1_001);
        bytes memory s1001 = _voucher(aliceKey, laneId, 1_001);
        bytes memory l600 = _entry(key, 600);
        bytes memory bobSig = _voucher(bobKey, laneId, 600);
        vm.startPrank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.VoucherNotNewer.selector, laneId, 500, 500));
        ledger.redeem(alice, address(token), l500, s500);
        vm.expectRevert(abi.encodeWithSelector(Ledger.VoucherNotNewer.selector, laneId, 400, 500));
        ledger.redeem(alice, address(token), l400, s400);
        vm.expectRevert(abi.encodeWithSelector(Ledger.LaneOverdrawn.selector, laneId, 1_001, 1_000));
        ledger.redeem(alice, address(token), l1001, s1001);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, laneId));
        ledger.redeem(alice, address(token), l600, bobSig);
        vm.stopPrank();
        assertEq(_claimed(laneId), 500);
    }

    /// @dev A provider can redeem until expiry + delay, not after; the payer reclaims only from then.
    function test_redeem_windowEndsExactlyWhenReclaimOpens() public {
        _fund(alice, 1_000);
        (Ledger.LaneKey memory key, bytes32 laneId) = _open(alice, other, 1_000);
        bytes memory lanes = _entry(key, 100);
        bytes memory sig = _voucher(aliceKey, laneId, 100);
        uint256 reclaimAt = T0 + 1 days + RECLAIM_DELAY;

        vm.warp(reclaimAt - 1);
        vm.expectRevert(abi.encodeWithSelector(Ledger.LaneNotReclaimable.selector, laneId, reclaimAt));
        ledger.reclaim(key);
        vm.prank(provider);
        ledger.redeem(alice, address(token), lanes, sig);

        lanes = _entry(key, 200);
        sig = _voucher(aliceKey, laneId, 200);
        vm.warp(reclaimAt);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.LaneExpired.selector, laneId, T0 + 1 days));
        ledger.redeem(alice, address(token), lanes, sig);
        assertEq(ledger.reclaim(key), 900);
    }

    /// @dev A smart-wallet payer (ERC-1271) signs vouchers through its owner key.
    function test_redeem_smartWalletPayer() public {
        Erc1271Wallet wallet = new Erc1271Wallet(alice);
        _fund(address(wallet), 1_000);
        (Ledger.LaneKey memory key, bytes32 laneId) = _open(address(wallet), other, 1_000);
        bytes memory lanes = _entry(key, 250);
        bytes memory ownerSig = _voucher(aliceKey, laneId, 250);
        bytes memory strangerSig = _voucher(bobKey, laneId, 250);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, laneId));
        ledger.redeem(address(wallet), address(token), lanes, strangerSig);
        vm.prank(provider);
        assertEq(ledger.redeem(address(wallet), address(token), lanes, ownerSig), 250);
        assertEq(_claimed(laneId), 250);
    }

    // ---------------------------------------------------------------------------------- buyPeriod

    function test_buyPeriod_creditsLineageAndExtends() public {
        uint256 flat = _flatModel(1_999, 30 days, _ids(adapter));
        _fund(alice, 10_000);
        bytes memory attribution = _charged(flat, 1_999);
        vm.expectEmit(true, true, false, true, address(ledger));
        emit Ledger.PeriodPurchased(alice, flat, address(token), 1_999, 1, T0 + 30 days);
        vm.expectEmit(true, true, true, true, address(ledger));
        emit Ledger.Settled(bytes32(0), alice, address(token), 1_999, attribution);
        vm.prank(alice);
        uint256 end = ledger.buyPeriod(flat, 1_999, 0);

        assertEq(end, T0 + 30 days);
        assertEq(ledger.periodEnd(alice, flat), T0 + 30 days);
        assertEq(ledger.escrowOf(address(token), alice), 10_000 - 1_999);
        assertEq(ledger.creditOf(address(token), flat), 1_701);
        assertEq(ledger.creditOf(address(token), base), 199);
        assertEq(ledger.creditOf(address(token), adapter), 99);

        // buying again while active stacks on the current end
        vm.warp(T0 + 10 days);
        vm.prank(alice);
        assertEq(ledger.buyPeriod(flat, 1_999, 0), T0 + 60 days);
        // after it lapsed, a new period starts now
        vm.warp(T0 + 100 days);
        vm.prank(alice);
        assertEq(ledger.buyPeriod(flat, 1_999, 0), T0 + 130 days);
    }

    function test_buyPeriod_depositsFirst() public {
        uint256 flat = _flatModel(50, 1 days, _ids());
        token.mint(alice, 80);
        vm.startPrank(alice);
        token.approve(address(ledger), 80);
        ledger.buyPeriod(flat, 50, 80);
        vm.stopPrank();
        assertEq(ledger.escrowOf(address(token), alice), 30);
        assertEq(ledger.creditOf(address(token), flat), 50);
    }

    function test_buyPeriod_rejections() public {
        uint256 flat = _flatModel(50, 1 days, _ids());
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.UnknownModel.selector, 999));
        ledger.buyPeriod(999, 50, 0);
        vm.expectRevert(abi.encodeWithSelector(Ledger.NoFlatFee.selector, other));
        ledger.buyPeriod(other, 50, 0);
        vm.expectRevert(abi.encodeWithSelector(Ledger.FeeAboveMax.selector, flat, 50, 49));
        ledger.buyPeriod(flat, 49, 0);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InsufficientEscrow.selector, address(token), 0, 50));
        ledger.buyPeriod(flat, 50, 0);
        vm.stopPrank();

        ledger.setTokenAllowed(address(token), false);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.TokenNotAllowed.selector, address(token)));
        ledger.buyPeriod(flat, 50, 0);
    }

    // --------------------------------------------------------------------------------- distribute

    function test_distribute_firstPayeeTakesRemainder() public {
        address p0 = makeAddr("p0");
        address p1 = makeAddr("p1");
        address p2 = makeAddr("p2");
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.payees = new address[](3);
        p.payees[0] = p0;
        p.payees[1] = p1;
        p.payees[2] = p2;
        p.shares = new uint16[](3);
        p.shares[0] = 3_334;
        p.shares[1] = 3_333;
        p.shares[2] = 3_333;
        uint256 id = _register(p);
        _creditDirect(id, 1_000);

        vm.expectEmit(true, true, false, true, address(ledger));
        emit Ledger.Distributed(id, address(token), 1_000);
        vm.prank(bob); // anyone may push credits to payees
        assertEq(ledger.distribute(id, address(token)), 1_000);

        assertEq(ledger.balanceOf(address(token), p1), 333);
        assertEq(ledger.balanceOf(address(token), p2), 333);
        assertEq(ledger.balanceOf(address(token), p0), 334);
        assertEq(ledger.creditOf(address(token), id), 0);
        vm.expectRevert(abi.encodeWithSelector(Ledger.NothingToDistribute.selector, id, address(token)));
        ledger.distribute(id, address(token));
    }

    function test_distribute_unknownAssetHasNothing() public {
        vm.expectRevert(abi.encodeWithSelector(Ledger.NothingToDistribute.selector, 12345, address(token)));
        ledger.distribute(12345, address(token));
    }

    /// @dev Two assets share one storage slot; crediting or draining one must not touch its neighbour.
    function test_creditOf_neighboursInOneSlotAreIndependent() public {
        // ids 4 (other) and 5 share slot 2
        uint256 five = _register(0, _ids());
        assertEq(five, 5);
        _creditDirect(other, 7);
        _creditDirect(five, 11);
        assertEq(ledger.creditOf(address(token), other), 7);
        assertEq(ledger.creditOf(address(token), five), 11);
        ledger.distribute(five, address(token));
        assertEq(ledger.creditOf(address(token), other), 7);
        assertEq(ledger.creditOf(address(token), five), 0);
        _creditDirect(five, 2);
        assertEq(ledger.creditOf(address(token), five), 2);
        assertEq(ledger.creditOf(address(token), other), 7);
    }

    // ----------------------------------------------------------------------------------- withdraw

    function test_withdraw_paysWholeBalanceToChosenAddress() public {
        _creditDirect(other, 500);
        ledger.distribute(other, address(token));
        address cold = makeAddr("cold");
        vm.expectEmit(true, true, false, true, address(ledger));
        emit Ledger.Withdrawn(payee, address(token), cold, 500);
        vm.prank(payee);
        assertEq(ledger.withdraw(address(token), cold), 500);
        assertEq(token.balanceOf(cold), 500);
        assertEq(ledger.balanceOf(address(token), payee), 0);

        vm.prank(payee);
        vm.expectRevert(abi.encodeWithSelector(Ledger.NothingToWithdraw.selector, address(token)));
        ledger.withdraw(address(token), cold);
    }

    function test_withdraw_worksForDisallowedToken() public {
        _creditDirect(other, 500);
        ledger.distribute(other, address(token));
        ledger.setTokenAllowed(address(token), false);
        vm.prank(payee);
        ledger.withdraw(address(token), payee);
        assertEq(token.balanceOf(payee), 500);
    }

    // ------------------------------------------------------------------------------------ helpers

    function _flatModel(uint96 fee, uint32 period, uint256[] memory parents) internal returns (uint256) {
        ModelRegistry.RegisterParams memory p = _params(0, parents);
        p.terms.flatFee = fee;
        p.terms.flatPeriod = period;
        return _register(p);
    }

    /// @dev Credits `amount` to an asset through a real lane settled by a throwaway payer.
    function _creditDirect(uint256 id, uint96 amount) internal {
        address who = makeAddr("filler");
        _fund(who, amount);
        (Ledger.LaneKey memory key,) = _open(who, id, amount);
        bytes memory lanes = _entry(key, amount);
        vm.prank(who);
        ledger.redeem(who, address(token), lanes, "");
    }
}
