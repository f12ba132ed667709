// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./utils/Fixture.sol";
import {Ledger} from "../src/Ledger.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {TestStablecoin} from "../src/TestStablecoin.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Admin, escrow, lanes (open, top up, reclaim) and the ledger's views.
contract LedgerLanesTest is Fixture {
    uint256 internal model;

    function setUp() public override {
        super.setUp();
        model = _register(0, _ids());
    }

    // ---------------------------------------------------------------------------- setTokenAllowed

    function test_setTokenAllowed_listsOnceAndToggles() public {
        TestStablecoin other = new TestStablecoin();
        vm.expectEmit(true, false, false, true, address(ledger));
        emit Ledger.TokenAllowed(address(other), true);
        ledger.setTokenAllowed(address(other), true);
        ledger.setTokenAllowed(address(other), false);
        ledger.setTokenAllowed(address(other), true);

        address[] memory listed = ledger.tokens();
        assertEq(listed.length, 2, "re-allowing does not list twice");
        assertEq(listed[0], address(token));
        assertEq(listed[1], address(other));
        assertTrue(ledger.tokenAllowed(address(other)));
        assertTrue(ledger.tokenListed(address(other)));
    }

    function test_setTokenAllowed_disallowKeepsListing() public {
        ledger.setTokenAllowed(address(token), false);
        assertFalse(ledger.tokenAllowed(address(token)));
        assertTrue(ledger.tokenListed(address(token)));
        assertEq(ledger.tokens().length, 1);
    }

    function test_setTokenAllowed_onlyOwner() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        ledger.setTokenAllowed(address(1), true);
    }

    /// @dev The token list bounds the flush loop in updateTerms, so it is capped.
    function test_setTokenAllowed_capsAtEightTokens() public {
        for (uint256 i = 1; i < 8; ++i) {
            ledger.setTokenAllowed(address(uint160(0x1000 + i)), true);
        }
        vm.expectRevert(abi.encodeWithSelector(Ledger.TooManyTokens.selector, 8));
        ledger.setTokenAllowed(address(0x2000), true);
        // a listed token can still be toggled at the cap
        ledger.setTokenAllowed(address(0x1001), false);
        assertFalse(ledger.tokenAllowed(address(0x1001)));
    }

    // ------------------------------------------------------------------------------------ deposit

    function test_deposit_creditsEscrow() public {
        token.mint(alice, 500);
        vm.startPrank(alice);
        token.approve(address(ledger), 500);
        vm.expectEmit(true, true, false, true, address(ledger));
        emit Ledger.Deposited(alice, address(token), 500);
        ledger.deposit(address(token), 500);
        vm.stopPrank();
        assertEq(ledger.escrowOf(address(token), alice), 500);
        assertEq(token.balanceOf(address(ledger)), 500);
        assertEq(token.balanceOf(alice), 0);
    }

    function test_deposit_rejectsZeroAndDisallowed() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.ZeroAmount.selector));
        ledger.deposit(address(token), 0);

        TestStablecoin other = new TestStablecoin();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.TokenNotAllowed.selector, address(other)));
        ledger.deposit(address(other), 1);

        ledger.setTokenAllowed(address(token), false);
        token.mint(alice, 1);
        vm.startPrank(alice);
        token.approve(address(ledger), 1);
        vm.expectRevert(abi.encodeWithSelector(Ledger.TokenNotAllowed.selector, address(token)));
        ledger.deposit(address(token), 1);
        vm.stopPrank();
    }

    // ----------------------------------------------------------------------------- withdrawEscrow

    function test_withdrawEscrow_returnsTokens() public {
        _fund(alice, 800);
        vm.expectEmit(true, true, false, true, address(ledger));
        emit Ledger.EscrowWithdrawn(alice, address(token), 300);
        vm.prank(alice);
        ledger.withdrawEscrow(address(token), 300);
        assertEq(ledger.escrowOf(address(token), alice), 500);
        assertEq(token.balanceOf(alice), 300);
        assertEq(token.balanceOf(address(ledger)), 500);
    }

    function test_withdrawEscrow_rejectsZeroAndTooMuch() public {
        _fund(alice, 800);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.ZeroAmount.selector));
        ledger.withdrawEscrow(address(token), 0);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InsufficientEscrow.selector, address(token), 800, 801));
        ledger.withdrawEscrow(address(token), 801);
        vm.stopPrank();
        // bob has nothing in alice's escrow
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InsufficientEscrow.selector, address(token), 0, 1));
        ledger.withdrawEscrow(address(token), 1);
    }

    /// @dev Disallowing a token must never trap funds.
    function test_withdrawEscrow_worksForDisallowedToken() public {
        _fund(alice, 800);
        ledger.setTokenAllowed(address(token), false);
        vm.prank(alice);
        ledger.withdrawEscrow(address(token), 800);
        assertEq(token.balanceOf(alice), 800);
    }

    function test_withdrawEscrow_neverTouchesLanes() public {
        _fund(alice, 800);
        _open(alice, model, 600);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InsufficientEscrow.selector, address(token), 200, 201));
        ledger.withdrawEscrow(address(token), 201);
    }

    // -------------------------------------------------------------------------------- openLicense

    function test_openLicense_locksCapFromEscrow() public {
        _fund(alice, 1_000);
        (,, uint32 tv, bytes32 lh) = registry.licenseInfo(model);
        bytes32 expectedId = keccak256(abi.encodePacked(alice, address(token), uint64(model), tv, uint64(1), lh));
        vm.expectEmit(true, true, true, true, address(ledger));
        emit Ledger.LaneOpened(expectedId, alice, model, address(token), tv, lh, 1, 600, T0 + 1 days);
        vm.prank(alice);
        bytes32 laneId = ledger.openLicense(model, 600, T0 + 1 days, PRICE, 0);

        assertEq(laneId, expectedId, "lane id is keccak(payer|token|model|version|seq|lineageHash)");
        assertEq(ledger.laneCount(), 1);
        assertEq(ledger.escrowOf(address(token), alice), 400);
        Ledger.LaneState memory s = ledger.laneState(laneId);
        assertEq(s.cap, 600);
        assertEq(s.claimed, 0);
        assertEq(s.expiresAt, T0 + 1 days);
        assertFalse(s.closed);
    }

    function test_openLicense_depositsFirst() public {
        token.mint(alice, 1_000);
        vm.startPrank(alice);
        token.approve(address(ledger), 1_000);
        vm.expectEmit(true, true, false, true, address(ledger));
        emit Ledger.Deposited(alice, address(token), 1_000);
        bytes32 laneId = ledger.openLicense(model, 700, T0 + 1, PRICE, 1_000);
        vm.stopPrank();
        assertEq(ledger.escrowOf(address(token), alice), 300);
        assertEq(ledger.laneState(laneId).cap, 700);
        assertEq(token.balanceOf(address(ledger)), 1_000);
    }

    function test_openLicense_sequenceMakesEachLaneUnique() public {
        _fund(alice, 1_000);
        (, bytes32 a) = _open(alice, model, 100);
        (, bytes32 b) = _open(alice, model, 100);
        assertTrue(a != b, "same payer, model and terms still get two lanes");
        assertEq(ledger.laneCount(), 2);
    }

    function test_openLicense_rejections() public {
        _fund(alice, 1_000);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.ZeroAmount.selector));
        ledger.openLicense(model, 0, T0 + 1, PRICE, 0);
        vm.expectRevert(abi.encodeWithSelector(Ledger.ExpiryInPast.selector, T0));
        ledger.openLicense(model, 1, T0, PRICE, 0);
        vm.expectRevert(abi.encodeWithSelector(Ledger.UnknownModel.selector, 99));
        ledger.openLicense(99, 1, T0 + 1, PRICE, 0);
        uint256 huge = uint256(type(uint64).max) + 1 + model;
        vm.expectRevert(abi.encodeWithSelector(Ledger.UnknownModel.selector, huge));
        ledger.openLicense(huge, 1, T0 + 1, PRICE, 0);
        vm.expectRevert(abi.encodeWithSelector(Ledger.PriceAboveMax.selector, model, PRICE, PRICE - 1));
        ledger.openLicense(model, 1, T0 + 1, PRICE - 1, 0);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InsufficientEscrow.selector, address(token), 1_000, 1_001));
        ledger.openLicense(model, 1_001, T0 + 1, PRICE, 0);
        vm.stopPrank();
    }

    function test_openLicense_rejectsFreeAndDisallowedTokens() public {
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.terms = ModelRegistry.Terms(address(0), 0, 0, 0);
        uint256 free = _register(p);
        _fund(alice, 10);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.TokenNotAllowed.selector, address(0)));
        ledger.openLicense(free, 1, T0 + 1, 0, 0);

        ledger.setTokenAllowed(address(token), false);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.TokenNotAllowed.selector, address(token)));
        ledger.openLicense(model, 1, T0 + 1, PRICE, 0);
    }

    // ------------------------------------------------------------------------------- topUpLicense

    function test_topUpLicense_addsCapAndExtends() public {
        _fund(alice, 1_000);
        (Ledger.LaneKey memory key, bytes32 laneId) = _open(alice, model, 400);
        vm.expectEmit(true, false, false, true, address(ledger));
        emit Ledger.LaneToppedUp(laneId, 650, T0 + 2 days);
        vm.prank(alice);
        ledger.topUpLicense(key, 250, T0 + 2 days, 0);
        Ledger.LaneState memory s = ledger.laneState(laneId);
        assertEq(s.cap, 650);
        assertEq(s.expiresAt, T0 + 2 days);
        assertEq(ledger.escrowOf(address(token), alice), 350);
    }

    function test_topUpLicense_neverShortensAndKeepsClaimed() public {
        _fund(alice, 1_000);
        (Ledger.LaneKey memory key, bytes32 laneId) = _open(alice, model, 400);
        bytes memory lanes = _entry(key, 150);
        vm.prank(alice);
        ledger.redeem(alice, address(token), lanes, "");
        vm.prank(alice);
        ledger.topUpLicense(key, 0, T0 + 1, 0);
        Ledger.LaneState memory s = ledger.laneState(laneId);
        assertEq(s.expiresAt, T0 + 1 days, "an earlier expiry is ignored");
        assertEq(s.cap, 400);
        assertEq(s.claimed, 150, "top-up keeps what was claimed");
    }

    function test_topUpLicense_depositsFirst() public {
        (Ledger.LaneKey memory key, bytes32 laneId) = _openFunded(alice, 100);
        token.mint(alice, 500);
        vm.startPrank(alice);
        token.approve(address(ledger), 500);
        ledger.topUpLicense(key, 500, 0, 500);
        vm.stopPrank();
        assertEq(ledger.laneState(laneId).cap, 600);
        assertEq(ledger.escrowOf(address(token), alice), 0);
    }

    function test_topUpLicense_rejections() public {
        (Ledger.LaneKey memory key, bytes32 laneId) = _openFunded(alice, 100);
        _fund(bob, 100);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(Ledger.NotLanePayer.selector, laneId, bob));
        ledger.topUpLicense(key, 1, 0, 0);

        Ledger.LaneKey memory wrong =
            Ledger.LaneKey(key.payer, key.token, key.modelId, key.termsVersion, key.lineageHash, 77);
        bytes32 wrongId = ledger.laneIdOf(wrong);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.UnknownLane.selector, wrongId));
        ledger.topUpLicense(wrong, 1, 0, 0);

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InsufficientEscrow.selector, address(token), 0, 1));
        ledger.topUpLicense(key, 1, 0, 0);

        vm.warp(T0 + 1 days);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.LaneExpired.selector, laneId, T0 + 1 days));
        ledger.topUpLicense(key, 0, T0 + 3 days, 0);

        vm.warp(T0 + 2 days);
        ledger.reclaim(key);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.LaneClosed.selector, laneId));
        ledger.topUpLicense(key, 0, T0 + 3 days, 0);
    }

    function test_topUpLicense_rejectsCapOverflow() public {
        uint96 max = type(uint96).max;
        _fund(alice, uint256(max) + 1);
        (Ledger.LaneKey memory key,) = _open(alice, model, max);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.AmountTooLarge.selector, uint256(max) + 1));
        ledger.topUpLicense(key, 1, 0, 0);
    }

    // ------------------------------------------------------------------------------------ reclaim

    function test_reclaim_onlyAfterExpiryPlusDelay() public {
        (Ledger.LaneKey memory key, bytes32 laneId) = _openFunded(alice, 1_000);
        uint256 reclaimAt = T0 + 1 days + RECLAIM_DELAY;
        vm.warp(reclaimAt - 1);
        vm.expectRevert(abi.encodeWithSelector(Ledger.LaneNotReclaimable.selector, laneId, reclaimAt));
        ledger.reclaim(key);
        vm.warp(reclaimAt);
        ledger.reclaim(key);
        assertTrue(ledger.laneState(laneId).closed);
    }

    /// @dev The refund is cap minus claimed, goes to the payer whoever calls, and the lane keeps what it paid.
    function test_reclaim_refundsUnclaimedToPayer() public {
        (Ledger.LaneKey memory key, bytes32 laneId) = _openFunded(alice, 1_000);
        bytes memory lanes = _entry(key, 370);
        vm.prank(alice);
        ledger.redeem(alice, address(token), lanes, "");

        vm.warp(T0 + 1 days + RECLAIM_DELAY);
        vm.expectEmit(true, true, false, true, address(ledger));
        emit Ledger.LaneReclaimed(laneId, alice, 630);
        vm.prank(bob);
        uint256 refund = ledger.reclaim(key);

        assertEq(refund, 630);
        assertEq(ledger.escrowOf(address(token), alice), 630);
        assertEq(ledger.escrowOf(address(token), bob), 0);
        Ledger.LaneState memory s = ledger.laneState(laneId);
        assertEq(s.cap, 370, "cap shrinks to what was claimed");
        assertEq(s.claimed, 370);
        assertTrue(s.closed);

        vm.expectRevert(abi.encodeWithSelector(Ledger.LaneClosed.selector, laneId));
        ledger.reclaim(key);
    }

    function test_reclaim_rejectsUnknownLane() public {
        Ledger.LaneKey memory key = Ledger.LaneKey(alice, address(token), uint64(model), 1, keccak256(""), 1);
        bytes32 id = ledger.laneIdOf(key);
        vm.expectRevert(abi.encodeWithSelector(Ledger.UnknownLane.selector, id));
        ledger.reclaim(key);
    }

    function test_reclaim_closedLaneCannotBeSettled() public {
        (Ledger.LaneKey memory key, bytes32 laneId) = _openFunded(alice, 1_000);
        vm.warp(T0 + 1 days + RECLAIM_DELAY);
        ledger.reclaim(key);
        bytes memory lanes = _entry(key, 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.LaneClosed.selector, laneId));
        ledger.redeem(alice, address(token), lanes, "");
    }

    // -------------------------------------------------------------------------------------- views

    function test_laneState_zeroForUnknown() public view {
        Ledger.LaneState memory s = ledger.laneState(keccak256("nothing"));
        assertEq(s.cap, 0);
        assertEq(s.claimed, 0);
        assertEq(s.expiresAt, 0);
        assertFalse(s.closed);
    }

    function test_laneIdOf_matchesPreimage() public view {
        Ledger.LaneKey memory key = Ledger.LaneKey(alice, address(token), 7, 3, keccak256("lineage"), 11);
        bytes32 expected =
            keccak256(abi.encodePacked(alice, address(token), uint64(7), uint32(3), uint64(11), keccak256("lineage")));
        assertEq(ledger.laneIdOf(key), expected);
    }

    /// @dev The digest is standard EIP-712 bound to this chain and this ledger.
    function test_voucherDigest_isEip712() public {
        bytes32 laneId = keccak256("lane");
        assertEq(ledger.voucherDigest(laneId, 42), _digestFor(block.chainid, address(ledger), laneId, 42));
        assertTrue(ledger.voucherDigest(laneId, 42) != ledger.voucherDigest(laneId, 43));
        assertEq(ledger.VOUCHER_TYPEHASH(), keccak256("Voucher(bytes32 laneId,uint256 cumulative)"));
        vm.chainId(999);
        assertEq(ledger.voucherDigest(laneId, 42), _digestFor(999, address(ledger), laneId, 42));
    }

    function test_registryHooks_onlyRegistry() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.NotRegistry.selector, alice));
        ledger.seedCredits(address(token), model, "");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ledger.NotRegistry.selector, alice));
        ledger.flushCredits(model);
    }

    // ------------------------------------------------------------------------------------ helpers

    function _openFunded(address who, uint96 cap) internal returns (Ledger.LaneKey memory, bytes32) {
        _fund(who, cap);
        return _open(who, model, cap);
    }
}
