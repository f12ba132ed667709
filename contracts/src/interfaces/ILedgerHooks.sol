// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice What the registry asks of the ledger when an asset is registered or its payees change.
interface ILedgerHooks {
    /// @notice True when `token` may be used for new deposits, licenses and terms.
    function tokenAllowed(address token) external view returns (bool);

    /// @notice Pre-creates the credit slots of `assetId` and its ancestors for `token`, so a first
    /// settlement pays no zero-to-non-zero storage write.
    function seedCredits(address token, uint256 assetId, bytes calldata lineage) external;

    /// @notice Distributes every credited balance of `assetId` to its current payees, before they change.
    function flushCredits(uint256 assetId) external;
}
