// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./utils/Fixture.sol";
import {Ledger} from "../src/Ledger.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {LedgerHandler} from "./handlers/LedgerHandler.sol";

/// @notice Money rules 1 and 5 as invariants over random sequences of deposits, lanes, top-ups,
/// settlements, signed redemptions, replays, reclaims, distributions, withdrawals, periods and
/// payee changes.
contract LedgerInvariantTest is Fixture {
    LedgerHandler internal handler;

    function setUp() public override {
        super.setUp();
        address[] memory payees = new address[](4);
        for (uint256 i; i < 4; ++i) {
            payees[i] = makeAddr(string.concat("payee", _str(i)));
        }
        // a root, a derivative of it with a flat fee, another root, and a derivative of both
        uint256[] memory assets = new uint256[](4);
        ModelRegistry.RegisterParams memory p = _params(1_000, _ids());
        p.payees = _addrs(payees[0], payees[1]);
        p.shares = _shares(7_001, 2_999);
        assets[0] = _register(p);
        p = _params(333, _ids(assets[0]));
        p.payees = _addrs(payees[2]);
        p.terms.flatFee = 997;
        p.terms.flatPeriod = 7 days;
        assets[1] = _register(p);
        p = _params(2_500, _ids());
        p.payees = _addrs(payees[3], payees[0]);
        p.shares = _shares(1, 9_999);
        assets[2] = _register(p);
        p = _params(0, _ids(assets[1], assets[2]));
        p.payees = _addrs(payees[1], payees[3]);
        p.shares = _shares(5_000, 5_000);
        p.terms.flatFee = 12_345;
        p.terms.flatPeriod = 1 days;
        assets[3] = _register(p);

        handler = new LedgerHandler(token, registry, ledger, creator, payees, assets);
        bytes4[] memory selectors = new bytes4[](14);
        selectors[0] = LedgerHandler.deposit.selector;
        selectors[1] = LedgerHandler.withdrawEscrow.selector;
        selectors[2] = LedgerHandler.openLicense.selector;
        selectors[3] = LedgerHandler.topUpLicense.selector;
        selectors[4] = LedgerHandler.settleAsPayer.selector;
        selectors[5] = LedgerHandler.redeemSigned.selector;
        selectors[6] = LedgerHandler.replayVoucher.selector;
        selectors[7] = LedgerHandler.warp.selector;
        selectors[8] = LedgerHandler.reclaim.selector;
        selectors[9] = LedgerHandler.distribute.selector;
        selectors[10] = LedgerHandler.withdraw.selector;
        selectors[11] = LedgerHandler.buyPeriod.selector;
        selectors[12] = LedgerHandler.updatePayees.selector;
        selectors[13] = LedgerHandler.overdraw.selector;
        targetContract(address(handler));
        targetSelectors(address(handler), selectors);
    }

    /// @dev Rule 1 by flows: what the ledger holds is exactly what came in minus what went out.
    function invariant_conservationOfFlows() public view {
        assertEq(
            token.balanceOf(address(ledger)) + handler.withdrawn(),
            handler.deposited(),
            "balance + withdrawn == deposited"
        );
    }

    /// @dev Rule 1 by location: every unit held is in exactly one escrow, lane, credit or payee balance.
    function invariant_conservationByLocation() public view {
        uint256 sum;
        for (uint256 i; i < handler.payerCount(); ++i) {
            sum += ledger.escrowOf(address(token), handler.payers(i));
        }
        for (uint256 i; i < handler.laneCount(); ++i) {
            Ledger.LaneState memory s = ledger.laneState(handler.laneIds(i));
            sum += s.cap - s.claimed;
        }
        for (uint256 i; i < handler.assetCount(); ++i) {
            sum += ledger.creditOf(address(token), handler.assets(i));
        }
        for (uint256 i; i < handler.payeeCount(); ++i) {
            sum += ledger.balanceOf(address(token), handler.payees(i));
        }
        assertEq(token.balanceOf(address(ledger)), sum, "balance == escrow + lanes + credits + payees");
    }

    /// @dev Rule 5: a voucher once redeemed is worth nothing again.
    function invariant_noVoucherReplay() public view {
        assertEq(handler.replaySuccesses(), 0, "replayed vouchers");
    }

    /// @dev No lane pays out more than was locked in it; a reclaimed lane keeps exactly what it paid.
    function invariant_noLaneOverClaimed() public view {
        for (uint256 i; i < handler.laneCount(); ++i) {
            Ledger.LaneState memory s = ledger.laneState(handler.laneIds(i));
            assertTrue(s.cap > 0 || s.closed, "every opened lane exists");
            assertLe(s.claimed, s.cap, "claimed <= cap");
            if (s.closed) assertEq(s.claimed, s.cap, "closed lane: cap == claimed");
        }
        assertEq(handler.overdrawSuccesses(), 0, "over-cap vouchers redeemed");
    }

    /// @dev The handler's replay and overdraw probes really reach the ledger (so the invariants above
    /// are not vacuous): one deterministic pass through them.
    function test_handlerProbesReachTheLedger() public {
        handler.openLicense(0, 3, 5_000, 1 days);
        handler.redeemSigned(0, 1_234, 0, 0);
        bytes32 laneId = handler.laneIds(0);
        assertEq(ledger.laneState(laneId).claimed, 1_234);
        handler.replayVoucher(0);
        handler.overdraw(0, 7);
        assertEq(handler.replayAttempts(), 1);
        assertEq(handler.replaySuccesses(), 0);
        assertEq(handler.overdrawAttempts(), 1);
        assertEq(handler.overdrawSuccesses(), 0);
        assertEq(ledger.laneState(laneId).claimed, 1_234);
        handler.settleAsPayer(0, 66, 0, 0);
        assertEq(ledger.laneState(laneId).claimed, 1_300);
        // two lanes of one payer in one signed redemption
        handler.openLicense(0, 2, 500, 1 days);
        handler.redeemSigned(0, 10, 1, 20);
        assertEq(ledger.laneState(laneId).claimed, 1_310);
        assertEq(ledger.laneState(handler.laneIds(1)).claimed, 20);
        invariant_conservationOfFlows();
        invariant_conservationByLocation();
    }
}
