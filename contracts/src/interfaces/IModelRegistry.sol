// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice The registry as the ledger reads it.
interface IModelRegistry {
    /// @notice The terms a new lane is bound to: payment token, price per call, terms version and lineage hash.
    function licenseInfo(uint256 assetId)
        external
        view
        returns (address token, uint96 pricePerCall, uint32 termsVersion, bytes32 lineageHash);

    /// @notice The flat-fee terms: token, fee, period in seconds, terms version and the packed lineage.
    function flatFeeInfo(uint256 assetId)
        external
        view
        returns (address token, uint96 flatFee, uint32 flatPeriod, uint32 termsVersion, bytes memory lineage);

    /// @notice The payees and their shares in basis points (summing to 10 000).
    function payeesOf(uint256 assetId) external view returns (address[] memory payees, uint16[] memory shares);

    /// @notice True when the asset exists.
    function exists(uint256 assetId) external view returns (bool);
}
