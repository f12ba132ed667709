// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./utils/Fixture.sol";
import {Ledger} from "../src/Ledger.sol";

/// @notice Credits are packed two per slot (uint128 halves): a credit that would pass 2^128 must revert,
/// never spill into the neighbouring asset's half.
contract CreditOverflowTest is Fixture {
    /// @dev credits of a token start at keccak(token, CREDITS_SEED); asset pair k is k slots further
    function _creditSlot(uint256 assetId) internal view returns (bytes32) {
        uint256 base = uint256(keccak256(abi.encode(address(token), keccak256("tributary.ledger.credits"))));
        return bytes32(base + (assetId >> 1));
    }

    function test_settlementThatWouldOverflowAHalfReverts() public {
        uint256 m = _register(0, _ids()); // id 1: the upper half of slot 0
        uint256 neighbour = m - 1; // id 0 never exists, but its half is the one that must stay intact
        _fund(alice, 10_000);
        (Ledger.LaneKey memory key,) = _openKey(m);
        bytes32 slot = _creditSlot(m);
        // the upper half one unit below the ceiling, the lower half holding a recognisable value
        uint256 nearMax = (uint256(1) << 128) - 2;
        vm.store(address(ledger), slot, bytes32((nearMax << 128) | 42));
        assertEq(ledger.creditOf(address(token), m), nearMax - 1, "seeded credit");

        // built before the prank: _entry reads the registry, which would consume prank and expectRevert
        bytes memory five = _entry(key, 5);
        bytes memory one = _entry(key, 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSignature("Panic(uint256)", 0x11));
        ledger.settle(alice, address(token), 5, keccak256("root"), five, "");
        // nothing moved: the neighbour's half and the lane are as they were
        assertEq(uint256(vm.load(address(ledger), slot)) & type(uint128).max, 42, "neighbour intact");
        assertEq(ledger.creditOf(address(token), neighbour), 41, "neighbour credit");
        assertEq(ledger.laneState(ledger.laneIdOf(key)).claimed, 0, "lane unchanged");

        // a credit that fits is fine
        vm.prank(alice);
        ledger.settle(alice, address(token), 1, keccak256("root"), one, "");
        assertEq(ledger.creditOf(address(token), m), nearMax, "credited to the ceiling");
    }

    // the fixture's key type, named locally for readability
    function _openKey(uint256 m) internal returns (Ledger.LaneKey memory key, bytes32 laneId) {
        (key, laneId) = _open(alice, m, 1_000);
    }
}
