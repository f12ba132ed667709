// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./utils/Fixture.sol";
import {Ledger} from "../src/Ledger.sol";
import {Erc1271Wallet} from "./mocks/Erc1271Wallet.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @notice redeemWithProofs: vouchers signed in batches (one EIP-712 `Vouchers(bytes32 root)` signature over
/// a sorted-pair Merkle tree of voucher struct hashes), mixed with plain vouchers, and every way to get it wrong.
contract LedgerBatchVouchersTest is Fixture {
    uint256 internal constant MODELS = 5;
    uint16 internal constant BASE_ROYALTY = 1_000;

    // computed off-chain with viem (encodeAbiParameters + keccak256), independently of the Solidity below
    bytes32 internal constant LEAF_A = 0xbe46d4c28304d84ba4fefa8eae83f82487af026b382197023b080121701c3247; // (0x0a, 100)
    bytes32 internal constant LEAF_B = 0x7eb36da9727f19164af7eec95ff86e05636eb816ff495f62c33ca3f29afba1bb; // (0x0b, 200)
    bytes32 internal constant LEAF_C = 0x8aae3588e898a3055467121d1598643cdd5a77ea3d1e56f6f4223329b5e80bf0; // (0x0c, 300)
    bytes32 internal constant ROOT_ABC = 0x9c48c0c21959bcdb5b986975fcc1ae705de2bc3333780094590757ffe7bdee09;

    uint256 internal base; // asks 10% of derivatives
    uint256[MODELS] internal models; // even indices derive from base, odd ones are roots

    /// @dev One redemption's calldata and what it should move.
    struct Batch {
        bytes32[] ids;
        uint96[] cumulatives;
        bytes32[] leaves;
        bytes32 root;
        bytes lanes;
        bytes signatures;
        bytes proofs;
        bytes attribution;
        uint256 total;
    }

    function setUp() public override {
        super.setUp();
        base = _register(BASE_ROYALTY, _ids());
        for (uint256 i; i < MODELS; ++i) {
            models[i] = _register(0, i % 2 == 0 ? _ids(base) : _ids());
        }
    }

    // --------------------------------------------------------------------------------- happy paths

    function test_redeemWithProofs_batchOfTwo() public {
        _redeemBatchAndCheckCredits(2);
    }

    function test_redeemWithProofs_batchOfThree() public {
        _redeemBatchAndCheckCredits(3);
    }

    /// @dev Five leaves: the fifth has no sibling on the first two levels and moves up unchanged.
    function test_redeemWithProofs_batchOfFive() public {
        Batch memory b = _redeemBatchAndCheckCredits(5);
        assertEq(_proof(b.leaves, 4).length, 1, "the odd leaf's proof is one node");
        assertEq(_proof(b.leaves, 0).length, 3, "a paired leaf's proof is three nodes");
    }

    /// @dev Lane order: batch, plain, batch. The plain lane's record is a lone zero byte.
    function test_redeemWithProofs_mixesPlainAndBatchLanes() public {
        _fund(alice, 30_000);
        (Ledger.LaneKey memory k0, bytes32 id0) = _open(alice, models[0], 10_000);
        (Ledger.LaneKey memory k1, bytes32 id1) = _open(alice, models[1], 10_000);
        (Ledger.LaneKey memory k2, bytes32 id2) = _open(alice, models[2], 10_000);
        bytes32[] memory leaves = new bytes32[](2);
        leaves[0] = _leaf(id0, 1_111);
        leaves[1] = _leaf(id2, 3_333);
        bytes memory rootSig = _sign(aliceKey, ledger.vouchersDigest(_root(leaves)));

        bytes memory lanes = abi.encodePacked(_entry(k0, 1_111), _entry(k1, 2_222), _entry(k2, 3_333));
        bytes memory signatures = abi.encodePacked(rootSig, _voucher(aliceKey, id1, 2_222), rootSig);
        bytes memory proofs = abi.encodePacked(_record(leaves, 0), uint8(0), _record(leaves, 1));
        assertEq(proofs.length, 33 + 1 + 33, "proof records");
        bytes memory attribution =
            abi.encodePacked(_charged(models[0], 1_111), _charged(models[1], 2_222), _charged(models[2], 3_333));

        vm.expectEmit(true, true, true, true, address(ledger));
        emit Ledger.Settled(bytes32(0), alice, address(token), 6_666, attribution);
        vm.prank(provider);
        assertEq(ledger.redeemWithProofs(alice, address(token), lanes, signatures, proofs), 6_666);

        assertEq(_claimed(id0), 1_111);
        assertEq(_claimed(id1), 2_222);
        assertEq(_claimed(id2), 3_333);
        // 1111 x 10% -> 111, 3333 x 10% -> 333
        assertEq(ledger.creditOf(address(token), base), 111 + 333, "base");
        assertEq(ledger.creditOf(address(token), models[0]), 1_000, "models[0]");
        assertEq(ledger.creditOf(address(token), models[1]), 2_222, "models[1]");
        assertEq(ledger.creditOf(address(token), models[2]), 3_000, "models[2]");
    }

    /// @dev The payer settles its own lanes without signatures or proofs, as with `redeem`.
    function test_redeemWithProofs_payerNeedsNoSignatures() public {
        Batch memory b = _batch(alice, aliceKey, 3);
        vm.prank(alice);
        assertEq(ledger.redeemWithProofs(alice, address(token), b.lanes, "", ""), b.total);
        _assertCredited(b);
    }

    /// @dev A smart-wallet payer (ERC-1271) signs the batch root through its owner key.
    function test_redeemWithProofs_smartWalletPayer() public {
        Erc1271Wallet wallet = new Erc1271Wallet(alice);
        Batch memory b = _batch(address(wallet), aliceKey, 3);
        Batch memory forged = _batch(address(wallet), bobKey, 3);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, forged.ids[0]));
        ledger.redeemWithProofs(address(wallet), address(token), forged.lanes, forged.signatures, forged.proofs);
        vm.prank(provider);
        assertEq(ledger.redeemWithProofs(address(wallet), address(token), b.lanes, b.signatures, b.proofs), b.total);
        _assertCredited(b);
    }

    /// @dev Leaf, root and digest against values computed outside this Solidity: the leaves and root with
    /// viem, the digest from the EIP-712 encoding written out by hand.
    function test_vouchersDigest_matchesIndependentEncoding() public view {
        assertEq(ledger.VOUCHERS_TYPEHASH(), keccak256("Vouchers(bytes32 root)"), "typehash");
        assertEq(_leaf(bytes32(uint256(0x0a)), 100), LEAF_A, "leaf a");
        assertEq(_leaf(bytes32(uint256(0x0b)), 200), LEAF_B, "leaf b");
        assertEq(_leaf(bytes32(uint256(0x0c)), 300), LEAF_C, "leaf c");
        bytes32[] memory leaves = new bytes32[](3);
        leaves[0] = LEAF_A;
        leaves[1] = LEAF_B;
        leaves[2] = LEAF_C;
        assertEq(_root(leaves), ROOT_ABC, "root");

        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("tributary"),
                keccak256("1"),
                block.chainid,
                address(ledger)
            )
        );
        bytes32 digest = keccak256(
            abi.encodePacked("\x19\x01", domain, keccak256(abi.encode(keccak256("Vouchers(bytes32 root)"), ROOT_ABC)))
        );
        assertEq(ledger.vouchersDigest(ROOT_ABC), digest, "digest");
        assertTrue(ledger.vouchersDigest(ROOT_ABC) != ledger.voucherDigest(ROOT_ABC, 0), "a root is no voucher");
    }

    // ----------------------------------------------------------------------------------- rejections

    function test_redeemWithProofs_rejectsProofToAnotherRoot() public {
        Batch memory b = _batch(alice, aliceKey, 3);
        // lane 0's record is bytes 0..64, so byte 66 is in lane 1's first sibling: its path leads elsewhere
        b.proofs[66] = bytes1(uint8(b.proofs[66]) ^ 0x01);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, b.ids[1]));
        ledger.redeemWithProofs(alice, address(token), b.lanes, b.signatures, b.proofs);
        _assertNothingMoved(b);
    }

    /// @dev A lower cumulative than the signed leaf, though within cap and newer than claimed, is refused.
    function test_redeemWithProofs_rejectsCumulativeOtherThanSigned() public {
        Batch memory b = _batch(alice, aliceKey, 3);
        bytes memory lanes = abi.encodePacked(
            _entry(_keyOf(b, 0), b.cumulatives[0]),
            _entry(_keyOf(b, 1), b.cumulatives[1] - 1),
            _entry(_keyOf(b, 2), b.cumulatives[2])
        );
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, b.ids[1]));
        ledger.redeemWithProofs(alice, address(token), lanes, b.signatures, b.proofs);
        _assertNothingMoved(b);
    }

    function test_redeemWithProofs_rejectsRootSignedByAnotherKey() public {
        Batch memory b = _batch(alice, aliceKey, 3);
        bytes memory bobSig = _sign(bobKey, ledger.vouchersDigest(b.root));
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, b.ids[0]));
        ledger.redeemWithProofs(alice, address(token), b.lanes, abi.encodePacked(bobSig, bobSig, bobSig), b.proofs);
        // the right root under a plain voucher's record is no voucher signature either
        bytes memory plainRecords = abi.encodePacked(uint8(0), uint8(0), uint8(0));
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.InvalidVoucherSignature.selector, b.ids[0]));
        ledger.redeemWithProofs(alice, address(token), b.lanes, b.signatures, plainRecords);
        _assertNothingMoved(b);
    }

    /// @dev A replayed batch is stale exactly as a replayed plain voucher is under `redeem`.
    function test_redeemWithProofs_replayIsStaleLikeRedeem() public {
        Batch memory b = _batch(alice, aliceKey, 3);
        vm.prank(provider);
        ledger.redeemWithProofs(alice, address(token), b.lanes, b.signatures, b.proofs);

        bytes memory stale =
            abi.encodeWithSelector(Ledger.VoucherNotNewer.selector, b.ids[0], b.cumulatives[0], b.cumulatives[0]);
        vm.prank(provider);
        vm.expectRevert(stale);
        ledger.redeemWithProofs(alice, address(token), b.lanes, b.signatures, b.proofs);

        bytes memory lane0 = _entry(_keyOf(b, 0), b.cumulatives[0]);
        bytes memory plainSig = _voucher(aliceKey, b.ids[0], b.cumulatives[0]);
        vm.prank(provider);
        vm.expectRevert(stale);
        ledger.redeem(alice, address(token), lane0, plainSig);
        _assertCredited(b);
    }

    function test_redeemWithProofs_rejectsTruncatedProofs() public {
        Batch memory b = _batch(alice, aliceKey, 3);
        // records: lane 0 (1 + 2 x 32), lane 1 (1 + 2 x 32), lane 2 (1 + 32)
        assertEq(b.proofs.length, 163, "proof bytes");
        vm.startPrank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.MalformedProofs.selector, 130));
        ledger.redeemWithProofs(alice, address(token), b.lanes, b.signatures, _cut(b.proofs, 162));
        vm.expectRevert(abi.encodeWithSelector(Ledger.MalformedProofs.selector, 130));
        ledger.redeemWithProofs(alice, address(token), b.lanes, b.signatures, _cut(b.proofs, 130));
        vm.expectRevert(abi.encodeWithSelector(Ledger.MalformedProofs.selector, 65));
        ledger.redeemWithProofs(alice, address(token), b.lanes, b.signatures, _cut(b.proofs, 129));
        vm.stopPrank();
        _assertNothingMoved(b);
    }

    function test_redeemWithProofs_rejectsTrailingProofBytes() public {
        Batch memory b = _batch(alice, aliceKey, 3);
        vm.startPrank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.MalformedProofs.selector, 163));
        ledger.redeemWithProofs(alice, address(token), b.lanes, b.signatures, abi.encodePacked(b.proofs, uint8(0)));
        vm.expectRevert(abi.encodeWithSelector(Ledger.MalformedProofs.selector, 163));
        ledger.redeemWithProofs(
            alice, address(token), b.lanes, b.signatures, abi.encodePacked(b.proofs, _record(b.leaves, 2))
        );
        vm.stopPrank();
        _assertNothingMoved(b);
    }

    function test_redeemWithProofs_rejectsMissingOrExtraSignatures() public {
        Batch memory b = _batch(alice, aliceKey, 3);
        bytes memory one = _sign(aliceKey, ledger.vouchersDigest(b.root));
        vm.startPrank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ledger.MissingSignatures.selector, 1, 0));
        ledger.redeemWithProofs(alice, address(token), b.lanes, "", b.proofs);
        vm.expectRevert(abi.encodeWithSelector(Ledger.MissingSignatures.selector, 3, 2));
        ledger.redeemWithProofs(alice, address(token), b.lanes, abi.encodePacked(one, one), b.proofs);
        vm.expectRevert(abi.encodeWithSelector(Ledger.MissingSignatures.selector, 3, 4));
        ledger.redeemWithProofs(alice, address(token), b.lanes, abi.encodePacked(b.signatures, one), b.proofs);
        vm.stopPrank();
        _assertNothingMoved(b);
    }

    // -------------------------------------------------------------------------------------- helpers

    /// @dev Opens `n` lanes of `payer` on models[0..n), signs one root over their vouchers with `signerKey`,
    /// and redeems them as the provider in one call, checking every lane and every credit.
    function _redeemBatchAndCheckCredits(uint256 n) internal returns (Batch memory b) {
        b = _batch(alice, aliceKey, n);
        for (uint256 i; i < n; ++i) {
            assertTrue(MerkleProof.verify(_proof(b.leaves, i), b.root, b.leaves[i]), "OpenZeppelin accepts the proof");
        }
        vm.expectEmit(true, true, true, true, address(ledger));
        emit Ledger.Settled(bytes32(0), alice, address(token), b.total, b.attribution);
        vm.prank(provider);
        uint256 total = ledger.redeemWithProofs(alice, address(token), b.lanes, b.signatures, b.proofs);
        assertEq(total, b.total, "total");
        _assertCredited(b);
    }

    function _batch(address payer, uint256 signerKey, uint256 n) internal returns (Batch memory b) {
        _fund(payer, n * 10_000);
        b.ids = new bytes32[](n);
        b.cumulatives = new uint96[](n);
        b.leaves = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            (Ledger.LaneKey memory key, bytes32 laneId) = _open(payer, models[i], 10_000);
            uint96 cumulative = uint96(999 + 1_234 * i);
            b.ids[i] = laneId;
            b.cumulatives[i] = cumulative;
            b.leaves[i] = _leaf(laneId, cumulative);
            b.lanes = abi.encodePacked(b.lanes, _entry(key, cumulative));
            b.attribution = abi.encodePacked(b.attribution, _charged(models[i], cumulative));
            b.total += cumulative;
        }
        b.root = _root(b.leaves);
        bytes memory sig = _sign(signerKey, ledger.vouchersDigest(b.root));
        for (uint256 i; i < n; ++i) {
            b.signatures = abi.encodePacked(b.signatures, sig);
            b.proofs = abi.encodePacked(b.proofs, _record(b.leaves, i));
        }
    }

    /// @dev The key of a batch lane, rebuilt from the lane counter (lanes are opened in order).
    function _keyOf(Batch memory b, uint256 i) internal view returns (Ledger.LaneKey memory key) {
        uint256 modelId = models[i];
        (address tok,, uint32 termsVersion, bytes32 lineageHash) = registry.licenseInfo(modelId);
        uint64 seq = uint64(ledger.laneCount() - b.ids.length + 1 + i);
        key = Ledger.LaneKey(alice, tok, uint64(modelId), termsVersion, lineageHash, seq);
        assertEq(ledger.laneIdOf(key), b.ids[i], "lane key");
    }

    function _assertCredited(Batch memory b) internal view {
        uint256 baseCredit;
        for (uint256 i; i < b.ids.length; ++i) {
            uint256 c = b.cumulatives[i];
            assertEq(_claimed(b.ids[i]), c, "claimed", i);
            uint256 royalty = i % 2 == 0 ? (c * BASE_ROYALTY) / 10_000 : 0;
            baseCredit += royalty;
            assertEq(ledger.creditOf(address(token), models[i]), c - royalty, "model credit", i);
        }
        assertEq(ledger.creditOf(address(token), base), baseCredit, "base credit");
    }

    function _assertNothingMoved(Batch memory b) internal view {
        for (uint256 i; i < b.ids.length; ++i) {
            assertEq(_claimed(b.ids[i]), 0, "claimed", i);
            assertEq(ledger.creditOf(address(token), models[i]), 0, "model credit", i);
        }
        assertEq(ledger.creditOf(address(token), base), 0, "base credit");
    }

    /// @dev A voucher's struct hash, the tree's leaf.
    function _leaf(bytes32 laneId, uint256 cumulative) internal pure returns (bytes32) {
        return keccak256(abi.encode(keccak256("Voucher(bytes32 laneId,uint256 cumulative)"), laneId, cumulative));
    }

    function _hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    /// @dev One level up: sorted pairs, a node without a sibling moves up unchanged.
    function _up(bytes32[] memory layer) internal pure returns (bytes32[] memory next) {
        next = new bytes32[]((layer.length + 1) / 2);
        for (uint256 i; i < next.length; ++i) {
            next[i] = 2 * i + 1 < layer.length ? _hashPair(layer[2 * i], layer[2 * i + 1]) : layer[2 * i];
        }
    }

    function _root(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory layer = leaves;
        while (layer.length > 1) {
            layer = _up(layer);
        }
        return layer[0];
    }

    function _proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory proof) {
        bytes32[] memory siblings = new bytes32[](8);
        uint256 n;
        bytes32[] memory layer = leaves;
        while (layer.length > 1) {
            if ((index ^ 1) < layer.length) siblings[n++] = layer[index ^ 1];
            layer = _up(layer);
            index >>= 1;
        }
        proof = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            proof[i] = siblings[i];
        }
    }

    /// @dev The packed proof record of leaf `index`: uint8 n | n x bytes32 sibling.
    function _record(bytes32[] memory leaves, uint256 index) internal pure returns (bytes memory record) {
        bytes32[] memory proof = _proof(leaves, index);
        record = abi.encodePacked(uint8(proof.length));
        for (uint256 i; i < proof.length; ++i) {
            record = abi.encodePacked(record, proof[i]);
        }
    }

    function _cut(bytes memory data, uint256 length) internal pure returns (bytes memory out) {
        out = new bytes(length);
        for (uint256 i; i < length; ++i) {
            out[i] = data[i];
        }
    }
}
