// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Ledger} from "../../src/Ledger.sol";
import {ITokenHooks} from "./HookToken.sol";

/// @notice A payer and payee that, when the token hands it control mid-transfer, calls the ledger
/// again to take the same money twice.
contract Reenterer is ITokenHooks {
    enum Mode {
        None,
        Withdraw,
        WithdrawEscrow,
        Deposit
    }

    Ledger public immutable ledger;
    IERC20 public immutable token;
    Mode public mode;
    /// @notice when set, the inner call's failure is caught instead of bubbled
    bool public swallow;
    uint256 public attempts;
    bytes public innerError;

    constructor(Ledger ledger_, IERC20 token_) {
        ledger = ledger_;
        token = token_;
        token_.approve(address(ledger_), type(uint256).max);
    }

    function arm(Mode m, bool swallow_) external {
        mode = m;
        swallow = swallow_;
    }

    function deposit(uint256 amount) external {
        ledger.deposit(address(token), amount);
    }

    function withdrawEscrow(uint256 amount) external {
        ledger.withdrawEscrow(address(token), amount);
    }

    function withdraw() external returns (uint256) {
        return ledger.withdraw(address(token), address(this));
    }

    function onTokenSend(address, uint256 amount) external {
        if (mode == Mode.Deposit) _reenter(abi.encodeCall(Ledger.deposit, (address(token), amount)));
    }

    function onTokenReceived(address, uint256 amount) external {
        if (mode == Mode.Withdraw) _reenter(abi.encodeCall(Ledger.withdraw, (address(token), address(this))));
        if (mode == Mode.WithdrawEscrow) _reenter(abi.encodeCall(Ledger.withdrawEscrow, (address(token), amount)));
    }

    function _reenter(bytes memory call) internal {
        Mode m = mode;
        mode = Mode.None; // one nested attempt per transfer
        ++attempts;
        (bool ok, bytes memory ret) = address(ledger).call(call);
        mode = m;
        if (ok) return;
        innerError = ret;
        if (!swallow) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
