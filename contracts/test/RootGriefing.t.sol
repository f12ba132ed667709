// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;
import {Test} from "./utils/Test.sol";
import {Ledger} from "../src/Ledger.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
/// @notice A receipt root belongs to its payer: no stranger may record it first, not even with an empty settlement.
contract RootGriefingTest is Test {
    function test_strangerCannotBurnRootWithEmptySettle() public {
        ModelRegistry reg = new ModelRegistry(address(this));
        Ledger led = new Ledger(IModelRegistry(address(reg)), 3600, address(this));
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(Ledger.MissingSignatures.selector, 0, 0));
        led.settle(address(0xA11CE), address(0x7), 0, bytes32(uint256(1)), "", "");
        assertFalse(led.rootSettled(address(0xA11CE), bytes32(uint256(1))));
    }
}
