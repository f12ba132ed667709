// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// @notice A run's receipt (src/workflow/receipt.ts) is provable on chain: a leaf is rebuilt here from the
/// entry's fields (the documented text line, hashed with the sha256 precompile) and its proof checks with
/// OpenZeppelin MerkleProof and a sorted-pair sha256 hasher. The constants are the receipt the TypeScript
/// test `test/workflow/ledger.test.ts` pins for the same three entries.
contract ReceiptProofTest is Test {
    struct Entry {
        bytes32 idempotencyKey;
        bytes32 laneId;
        bytes32 inputHash;
        bytes32 outputHash;
        uint256 assetId;
        uint128 amount;
        uint128 cumulative;
        uint32 latencyMs;
        bytes providerSignature;
        string modelVersion;
    }

    bytes32 internal constant LEAF_0 = 0x2ba9e92fe22b77c8f428ea6dba14d04b996bd6c6c2750950cc043ff7002f89bb;
    bytes32 internal constant LEAF_1 = 0xecae82aba999ff5d6e745d79dea921ddb3ecacd5c1915835624286978b05e612;
    bytes32 internal constant LEAF_2 = 0x80e71e3b31943e7fe4f50db7e90d2416f70054ff49d7f4cefb5f9af301fb5e6e;
    bytes32 internal constant NODE_01 = 0x3c980b30e7bf46811c7f53920d6041d2bb5116d0f27e60d7c2f86169d778403c;
    bytes32 internal constant ROOT = 0x3787203dae3114bc972b3568d19ec2b4c8af81129e558e12a0391b58956accd8;

    /// @dev getReceiptProof(entries, i) as the TypeScript test pins it.
    function proofOf(uint256 i) internal pure returns (bytes32[] memory proof) {
        if (i == 2) {
            proof = new bytes32[](1);
            proof[0] = NODE_01;
        } else {
            proof = new bytes32[](2);
            proof[0] = i == 0 ? LEAF_1 : LEAF_0;
            proof[1] = LEAF_2;
        }
    }

    /// @dev The i-th entry of the TypeScript fixture: idempotency key of step `s{i}` in run 0x1212…12.
    function entry(uint256 i) internal pure returns (Entry memory e) {
        bytes32[3] memory keys = [
            bytes32(0x2a7548c98acfdbd31db5b8c8cea75125f3ff708f877cfeacd4d3365515bfd609),
            bytes32(0xa6878963a1e16b0e2930b1f9e9d80052a92d4a75bc393666b228d3442fdf89b5),
            bytes32(0x391da4299e0bc47eed167743ade1189160f880da5d0973e530998746e060e620)
        ];
        bytes memory signature = new bytes(65);
        for (uint256 j = 0; j < 65; j++) signature[j] = 0xab;
        e = Entry({
            idempotencyKey: keys[i],
            laneId: bytes32(100 + i),
            inputHash: bytes32(200 + i),
            outputHash: bytes32(300 + i),
            assetId: i + 1,
            amount: uint128(10 + i),
            cumulative: uint128(10 + i),
            latencyMs: uint32(3 + i),
            providerSignature: signature,
            modelVersion: string.concat("1.", Strings.toString(i), ".0")
        });
    }

    /// @dev The documented leaf: sha256 of
    /// `idempotencyKey:laneId:inputHash:outputHash:assetId:amount:cumulative:latencyMs:providerSignature:modelVersion`.
    function leafOf(Entry memory e) internal pure returns (bytes32) {
        string memory hashes = string.concat(
            Strings.toHexString(uint256(e.idempotencyKey), 32),
            ":",
            Strings.toHexString(uint256(e.laneId), 32),
            ":",
            Strings.toHexString(uint256(e.inputHash), 32),
            ":",
            Strings.toHexString(uint256(e.outputHash), 32)
        );
        string memory numbers = string.concat(
            Strings.toString(e.assetId),
            ":",
            Strings.toString(e.amount),
            ":",
            Strings.toString(e.cumulative),
            ":",
            Strings.toString(e.latencyMs)
        );
        return sha256(
            bytes(
                string.concat(
                    hashes, ":", numbers, ":", Strings.toHexString(e.providerSignature), ":", e.modelVersion
                )
            )
        );
    }

    function sortedSha256(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? sha256(abi.encodePacked(a, b)) : sha256(abi.encodePacked(b, a));
    }

    function test_leavesRebuiltFromFieldsMatchTypeScript() public pure {
        assertEq(leafOf(entry(0)), LEAF_0);
        assertEq(leafOf(entry(1)), LEAF_1);
        assertEq(leafOf(entry(2)), LEAF_2);
    }

    function test_rootIsSortedPairSha256() public pure {
        // three leaves: the first two pair up, the third moves up unchanged
        assertEq(sortedSha256(LEAF_0, LEAF_1), NODE_01);
        assertEq(sortedSha256(LEAF_1, LEAF_0), NODE_01);
        assertEq(sortedSha256(NODE_01, LEAF_2), ROOT);
    }

    function test_everyEntryProvesWithOpenZeppelinMerkleProof() public view {
        for (uint256 i = 0; i < 3; i++) {
            assertTrue(MerkleProof.verify(proofOf(i), ROOT, leafOf(entry(i)), sortedSha256));
        }
    }

    function test_anAlteredEntryDoesNotProve() public view {
        for (uint256 i = 0; i < 3; i++) {
            Entry memory e = entry(i);
            e.amount += 1;
            assertFalse(MerkleProof.verify(proofOf(i), ROOT, leafOf(e), sortedSha256));
            e = entry(i);
            e.modelVersion = "9.9.9";
            assertFalse(MerkleProof.verify(proofOf(i), ROOT, leafOf(e), sortedSha256));
            e = entry(i);
            e.providerSignature[0] = 0xac;
            assertFalse(MerkleProof.verify(proofOf(i), ROOT, leafOf(e), sortedSha256));
        }
    }

}
