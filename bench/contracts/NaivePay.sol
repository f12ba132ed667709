// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @notice The naive way to pay a composite: one ERC-20 transfer from the payer to every payee of every
/// model and to every ancestor. Reference for the gas benchmark only.
contract NaivePay {
    using SafeERC20 for IERC20;

    function pay(IERC20 token, address[] calldata to, uint256[] calldata amounts) external {
        for (uint256 i; i < to.length; ++i) {
            token.safeTransferFrom(msg.sender, to[i], amounts[i]);
        }
    }
}
