// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice The cheatcodes the suites use (forge's Vm at the well-known address).
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function warp(uint256) external;
    function roll(uint256) external;
    function prank(address) external;
    function startPrank(address) external;
    function stopPrank() external;
    function expectRevert(bytes calldata) external;
    function expectRevert(bytes4) external;
    function expectRevert() external;
    function expectEmit(bool, bool, bool, bool) external;
    function assume(bool) external;
    function addr(uint256) external returns (address);
    function sign(uint256, bytes32) external returns (uint8, bytes32, bytes32);
    function label(address, string calldata) external;
    function chainId(uint256) external;
    function deal(address, uint256) external;
    function etch(address, bytes calldata) external;
    function snapshotState() external returns (uint256);
    function revertToState(uint256) external returns (bool);
    function expectEmit(bool, bool, bool, bool, address) external;
    function expectEmit() external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function load(address, bytes32) external view returns (bytes32);
    function store(address, bytes32, bytes32) external;
}

/// @notice A small test base: cheatcodes, assertions that revert with a message, bounded fuzz inputs,
/// and the target selectors forge's invariant runner reads.
abstract contract Test {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    bool public IS_TEST = true;

    address[] private _targetContracts;
    bytes4[] private _targetSelectorList;
    address private _targetSelectorContract;

    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory out) {
        if (_targetSelectorContract == address(0)) return out;
        out = new FuzzSelector[](1);
        out[0] = FuzzSelector(_targetSelectorContract, _targetSelectorList);
    }

    function targetContract(address a) internal {
        _targetContracts.push(a);
    }

    function targetSelectors(address a, bytes4[] memory selectors) internal {
        _targetSelectorContract = a;
        for (uint256 i; i < selectors.length; ++i) {
            _targetSelectorList.push(selectors[i]);
        }
    }

    /// @notice A labelled address with a known private key, so it can sign vouchers.
    function makeAddrAndKey(string memory name) internal returns (address a, uint256 key) {
        key = uint256(keccak256(bytes(name)));
        a = vm.addr(key);
        vm.label(a, name);
    }

    function makeAddr(string memory name) internal returns (address a) {
        (a,) = makeAddrAndKey(name);
    }

    function fail(string memory message) internal pure {
        revert(message);
    }

    function assertTrue(bool v, string memory message) internal pure {
        if (!v) revert(message);
    }

    function assertTrue(bool v) internal pure {
        assertTrue(v, "assertion failed");
    }

    function assertFalse(bool v) internal pure {
        assertTrue(!v, "expected false");
    }

    function assertEq(uint256 a, uint256 b) internal pure {
        if (a != b) revert(string.concat("expected ", _str(b), ", got ", _str(a)));
    }

    function assertEq(uint256 a, uint256 b, string memory message) internal pure {
        if (a != b) revert(string.concat(message, ": expected ", _str(b), ", got ", _str(a)));
    }

    function assertEq(address a, address b) internal pure {
        if (a != b) revert("addresses differ");
    }

    function assertEq(uint256 a, uint256 b, string memory message, uint256 index) internal pure {
        if (a != b) revert(string.concat(message, "[", _str(index), "]: expected ", _str(b), ", got ", _str(a)));
    }

    function assertEq(address a, address b, string memory message) internal pure {
        if (a != b) revert(string.concat(message, ": addresses differ"));
    }

    function assertEq(bytes32 a, bytes32 b, string memory message) internal pure {
        if (a != b) revert(string.concat(message, ": bytes32 differ"));
    }

    function assertEq(bytes memory a, bytes memory b, string memory message) internal pure {
        if (keccak256(a) != keccak256(b)) revert(string.concat(message, ": bytes differ"));
    }

    function assertEq(bytes32 a, bytes32 b) internal pure {
        if (a != b) revert("bytes32 differ");
    }

    function assertEq(bytes memory a, bytes memory b) internal pure {
        if (keccak256(a) != keccak256(b)) revert("bytes differ");
    }

    function assertEq(bool a, bool b) internal pure {
        if (a != b) revert("bools differ");
    }

    function assertLe(uint256 a, uint256 b, string memory message) internal pure {
        if (a > b) revert(string.concat(message, ": ", _str(a), " > ", _str(b)));
    }

    function assertGe(uint256 a, uint256 b, string memory message) internal pure {
        if (a < b) revert(string.concat(message, ": ", _str(a), " < ", _str(b)));
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        require(lo <= hi, "bound: lo > hi");
        if (x >= lo && x <= hi) return x;
        uint256 size = hi - lo + 1;
        return lo + (x % size);
    }

    function _str(uint256 v) internal pure returns (string memory) {
        if (v == 0) return "0";
        uint256 len;
        for (uint256 t = v; t != 0; t /= 10) {
            ++len;
        }
        bytes memory b = new bytes(len);
        for (; v != 0; v /= 10) {
            b[--len] = bytes1(uint8(48 + (v % 10)));
        }
        return string(b);
    }
}
