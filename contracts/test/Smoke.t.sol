// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {TestStablecoin} from "../src/TestStablecoin.sol";

contract SmokeTest is Test {
    function test_mint() public {
        TestStablecoin t = new TestStablecoin();
        t.mint(address(this), 5);
        assertEq(t.balanceOf(address(this)), 5);
    }
}
