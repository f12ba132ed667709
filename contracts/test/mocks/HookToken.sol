// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice What a hooked holder implements, ERC-777 style.
interface ITokenHooks {
    function onTokenSend(address to, uint256 amount) external;
    function onTokenReceived(address from, uint256 amount) external;
}

/// @notice An ERC-20 that calls its registered holders before they send and after they receive,
/// the way ERC-777 (and any token with transfer hooks) hands control to outside code mid-transfer.
contract HookToken is ERC20 {
    mapping(address holder => bool) public hooked;

    constructor() ERC20("Hook", "HOOK") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setHooked(address holder, bool on) external {
        hooked[holder] = on;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && hooked[from]) ITokenHooks(from).onTokenSend(to, value);
        super._update(from, to, value);
        if (to != address(0) && hooked[to]) ITokenHooks(to).onTokenReceived(from, value);
    }
}
