// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./utils/Fixture.sol";
import {Vm} from "./utils/Test.sol";
import {Ledger} from "../src/Ledger.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";

/// @notice Property tests of the integer rules: the lineage split, the payee split, and lineage flattening.
contract LineageFuzzTest is Fixture {
    uint256 internal constant MAX_LINEAGE_BPS = 5_000;

    // ------------------------------------------------------------------------------ lineage split

    /// @dev Registers up to 8 parents, each optionally with its own parent, royalties drawn within the
    /// 5000 bps budget (zero allowed: such an ancestor drops out of the vector), then a derivative of
    /// them all. Returns the derivative and the expected (id, bps) of every paying ancestor.
    function _family(uint8 nParents, uint16[16] memory raw, uint16 grandMask, uint96 flatFee)
        internal
        returns (uint256 child, uint256[] memory ancIds, uint256[] memory ancBps)
    {
        uint256 n = bound(nParents, 1, 8);
        uint256[] memory parents = new uint256[](n);
        ancIds = new uint256[](2 * n);
        ancBps = new uint256[](2 * n);
        uint256 count;
        uint256 budget = MAX_LINEAGE_BPS;
        for (uint256 i; i < n; ++i) {
            uint256[] memory grand = new uint256[](0);
            if (grandMask & (1 << i) != 0) {
                uint256 g = bound(raw[2 * i + 1], 0, budget);
                budget -= g;
                grand = _ids(_register(uint16(g), _ids()));
                if (g > 0) (ancIds[count], ancBps[count++]) = (grand[0], g);
            }
            uint256 r = bound(raw[2 * i], 0, budget);
            budget -= r;
            parents[i] = _register(uint16(r), grand);
            if (r > 0) (ancIds[count], ancBps[count++]) = (parents[i], r);
        }
        ModelRegistry.RegisterParams memory p = _params(0, parents);
        if (flatFee > 0) {
            p.terms.flatFee = flatFee;
            p.terms.flatPeriod = 1 days;
        }
        child = _register(p);
        assembly ("memory-safe") {
            mstore(ancIds, count)
            mstore(ancBps, count)
        }
        assertEq(registry.lineageOf(child).length, count * 10, "every paying ancestor is in the vector");
    }

    /// @dev Ancestors get floor(delta x bps / 10 000), the model the rest; the sum is delta exactly.
    function testFuzz_lineageSplit(
        uint8 nParents,
        uint16[16] memory raw,
        uint16 grandMask,
        uint96 cap,
        uint96 first,
        uint96 second
    ) public {
        (uint256 child, uint256[] memory ids, uint256[] memory bps) = _family(nParents, raw, grandMask, 0);
        cap = uint96(bound(cap, 2, type(uint96).max));
        first = uint96(bound(first, 1, cap - 1));
        second = uint96(bound(second, first + 1, cap));
        _fund(alice, cap);
        (Ledger.LaneKey memory key,) = _open(alice, child, cap);

        bytes memory lanes = _entry(key, first);
        vm.prank(alice);
        ledger.settle(alice, address(token), first, keccak256("first"), lanes, "");
        uint256[] memory before = _credits(child, ids);

        // the split applies to what this settlement moves, not to the cumulative figure
        uint256 delta = second - first;
        lanes = _entry(key, second);
        vm.recordLogs();
        vm.prank(alice);
        ledger.settle(alice, address(token), delta, keccak256("second"), lanes, "");
        _expectSettledAttribution(_charged(child, delta));

        uint256 sum;
        for (uint256 i; i < ids.length; ++i) {
            uint256 got = ledger.creditOf(address(token), ids[i]) - before[i + 1];
            assertEq(got, (delta * bps[i]) / 10_000, "ancestor share", i);
            sum += got;
        }
        uint256 modelGot = ledger.creditOf(address(token), child) - before[0];
        assertEq(modelGot, delta - sum, "model keeps the rest");
        assertGe(modelGot, delta / 2, "the lineage never takes more than half");
        assertEq(_sumCredits(child, ids), second, "credits sum to what was claimed, to the unit");
    }

    /// @dev A flat-fee purchase splits exactly like per-call revenue.
    function testFuzz_flatFeeSplit(uint8 nParents, uint16[16] memory raw, uint16 grandMask, uint96 fee) public {
        fee = uint96(bound(fee, 1, type(uint96).max));
        (uint256 child, uint256[] memory ids, uint256[] memory bps) = _family(nParents, raw, grandMask, fee);
        _fund(alice, fee);
        vm.recordLogs();
        vm.prank(alice);
        ledger.buyPeriod(child, fee, 0);
        _expectSettledAttribution(_charged(child, fee));
        uint256 sum;
        for (uint256 i; i < ids.length; ++i) {
            uint256 got = ledger.creditOf(address(token), ids[i]);
            assertEq(got, (uint256(fee) * bps[i]) / 10_000, "ancestor share", i);
            sum += got;
        }
        assertEq(ledger.creditOf(address(token), child), fee - sum);
        assertEq(ledger.escrowOf(address(token), alice), 0);
    }

    /// @dev The last Settled log names the model and the delta, from which an indexer rebuilds the split.
    function _expectSettledAttribution(bytes memory expected) internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 topic = keccak256("Settled(bytes32,address,address,uint256,bytes)");
        for (uint256 i = logs.length; i > 0; --i) {
            if (logs[i - 1].emitter == address(ledger) && logs[i - 1].topics[0] == topic) {
                (, bytes memory attribution) = abi.decode(logs[i - 1].data, (uint256, bytes));
                assertEq(attribution, expected, "Settled attribution");
                return;
            }
        }
        fail("no Settled event");
    }

    function _credits(uint256 child, uint256[] memory ids) internal view returns (uint256[] memory out) {
        out = new uint256[](ids.length + 1);
        out[0] = ledger.creditOf(address(token), child);
        for (uint256 i; i < ids.length; ++i) {
            out[i + 1] = ledger.creditOf(address(token), ids[i]);
        }
    }

    function _sumCredits(uint256 child, uint256[] memory ids) internal view returns (uint256 sum) {
        uint256[] memory c = _credits(child, ids);
        for (uint256 i; i < c.length; ++i) {
            sum += c[i];
        }
    }

    // ---------------------------------------------------------------------------- payee split

    /// @dev Random shares summing to 10 000: payee i > 0 gets floor(amount x share / 10 000), the first
    /// payee the rest, and nothing is created or lost.
    function testFuzz_distribution(uint8 k, uint16[8] memory raw, uint96 amount) public {
        uint256 n = bound(k, 1, 8);
        amount = uint96(bound(amount, 1, type(uint96).max));
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.payees = new address[](n);
        p.shares = new uint16[](n);
        uint256 left = 10_000 - n; // every payee has at least 1 bps
        for (uint256 i; i < n; ++i) {
            uint256 extra = i == n - 1 ? left : bound(raw[i], 0, left);
            left -= extra;
            p.payees[i] = address(uint160(0xBEEF00 + i));
            p.shares[i] = uint16(1 + extra);
        }
        uint256 id = _register(p);

        _fund(alice, amount);
        (Ledger.LaneKey memory key,) = _open(alice, id, amount);
        bytes memory lanes = _entry(key, amount);
        vm.prank(alice);
        ledger.redeem(alice, address(token), lanes, "");
        assertEq(ledger.distribute(id, address(token)), amount);

        uint256 sum;
        for (uint256 i = 1; i < n; ++i) {
            uint256 got = ledger.balanceOf(address(token), p.payees[i]);
            assertEq(got, (uint256(amount) * p.shares[i]) / 10_000, "payee share", i);
            sum += got;
        }
        uint256 firstGot = ledger.balanceOf(address(token), p.payees[0]);
        assertEq(firstGot, amount - sum, "first payee takes the remainder");
        uint256 floor0 = (uint256(amount) * p.shares[0]) / 10_000;
        assertGe(firstGot, floor0, "remainder is never negative");
        assertLe(firstGot - floor0, n - 1, "remainder is below one unit per other payee");
        assertEq(ledger.creditOf(address(token), id), 0);
    }

    // ------------------------------------------------------------------------ lineage flattening

    uint256 internal constant DAG_SIZE = 48;

    /// @dev Builds a random DAG of registrations and checks each stored vector against a reference
    /// computed here with bitmasks: sorted union of paying ancestors, no duplicates, each with its own
    /// royalty; over 32 ancestors reverts TooManyAncestors, over 5000 bps LineageTooExpensive.
    /// forge-config: default.fuzz.runs = 48
    function testFuzz_flattening(uint256 seed) public {
        _flatteningRun(seed);
    }

    /// @dev Guards the generator: over a few fixed seeds, every outcome (accepted, over 32 ancestors,
    /// over 5000 bps, unknown parent) occurs, so the fuzz test is not vacuous.
    function test_flattening_generatorReachesEveryOutcome() public {
        uint256[4] memory seen;
        for (uint256 s = 1; s <= 4; ++s) {
            uint256 snap = vm.snapshotState();
            uint256[4] memory o = _flatteningRun(s);
            vm.revertToState(snap);
            for (uint256 i; i < 4; ++i) {
                seen[i] += o[i];
            }
        }
        assertGe(seen[0], 1, "accepted");
        assertGe(seen[1], 1, "over 32 ancestors");
        assertGe(seen[2], 1, "over 5000 bps");
        assertGe(seen[3], 1, "unknown parent");
    }

    /// @return outcome counts of (accepted, TooManyAncestors, LineageTooExpensive, UnknownAsset)
    function _flatteningRun(uint256 seed) internal returns (uint256[4] memory outcome) {
        uint256[] memory royalty = new uint256[](DAG_SIZE + 1);
        uint256[] memory anc = new uint256[](DAG_SIZE + 1); // bit i set: asset i is a paying ancestor
        uint256 made;
        uint256 refused;
        for (uint256 step; step < DAG_SIZE; ++step) {
            seed = uint256(keccak256(abi.encode(seed, step)));
            uint256[] memory parents = _pickParents(seed >> 32, made);
            (uint256 union, uint256 count, uint256 total) = _union(parents, royalty, anc, made);
            ModelRegistry.RegisterParams memory p = _params(_royalty(seed), parents);

            bool unknown = (seed >> 200) % 16 == 0 && made > 0;
            if (unknown) {
                // a parent that does not exist yet (this asset's own id): no cycle can be declared
                uint256 keep = parents.length < 8 ? parents.length : 7;
                p.parents = new uint256[](keep + 1);
                p.parents[0] = made + 1;
                for (uint256 i; i < keep; ++i) {
                    p.parents[i + 1] = parents[i];
                }
                vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAsset.selector, made + 1));
            } else if (count > 32) {
                vm.expectRevert(abi.encodeWithSelector(ModelRegistry.TooManyAncestors.selector, 33, 32));
            } else if (total > MAX_LINEAGE_BPS) {
                vm.expectRevert(abi.encodeWithSelector(ModelRegistry.LineageTooExpensive.selector, total, 5_000));
            }
            vm.prank(creator);
            uint256 id = registry.register(p);
            if (unknown || count > 32 || total > MAX_LINEAGE_BPS) {
                // expectRevert above has already checked the exact error
                ++refused;
                ++outcome[unknown ? 3 : count > 32 ? 1 : 2];
                continue;
            }
            ++outcome[0];
            assertEq(id, ++made);
            royalty[id] = p.royaltyBps;
            anc[id] = union;
            _checkStored(id, union, royalty);
        }
        assertEq(registry.assetCount(), made);
        assertEq(made + refused, DAG_SIZE);
    }

    /// @dev Mostly small royalties so lineages can outgrow 32 entries, a few large ones so the 5000 bps
    /// cap is reached too, and some zeros that must drop out of the vectors.
    function _royalty(uint256 seed) internal pure returns (uint16) {
        uint256 kind = seed % 16;
        if (kind < 2) return 0;
        if (kind == 4) return uint16(500 + (seed >> 8) % 1_500);
        return uint16(1 + (seed >> 8) % 80);
    }

    /// @dev The reference flattening: paying parents plus their paying ancestors, as a bitmask.
    function _union(uint256[] memory parents, uint256[] memory royalty, uint256[] memory anc, uint256 made)
        internal
        pure
        returns (uint256 union, uint256 count, uint256 total)
    {
        for (uint256 i; i < parents.length; ++i) {
            union |= anc[parents[i]];
            if (royalty[parents[i]] > 0) union |= 1 << parents[i];
        }
        for (uint256 id = 1; id <= made; ++id) {
            if (union & (1 << id) != 0) {
                ++count;
                total += royalty[id];
            }
        }
    }

    function _checkStored(uint256 id, uint256 union, uint256[] memory royalty) internal view {
        bytes memory expected;
        for (uint256 a = 1; a < id; ++a) {
            if (union & (1 << a) != 0) expected = abi.encodePacked(expected, uint64(a), uint16(royalty[a]));
        }
        assertEq(registry.lineageOf(id), expected, "stored vector is the sorted union");
        (,,, bytes32 lineageHash) = registry.licenseInfo(id);
        assertEq(lineageHash, keccak256(expected));
    }

    /// @dev Up to 8 distinct parents among the `made` assets, mostly among the 6 newest so lineages grow past the caps.
    function _pickParents(uint256 seed, uint256 made) internal pure returns (uint256[] memory parents) {
        if (made == 0) return parents;
        uint256 want = 1 + seed % 8;
        if (want > made) want = made;
        parents = new uint256[](want);
        uint256 chosen;
        uint256 n;
        for (uint256 tries; n < want && tries < 64; ++tries) {
            seed = uint256(keccak256(abi.encode(seed)));
            uint256 pick = seed % 4 != 0 ? made - ((seed >> 8) % (made < 6 ? made : 6)) : 1 + (seed >> 8) % made;
            if (chosen & (1 << pick) != 0) continue;
            chosen |= 1 << pick;
            parents[n++] = pick;
        }
        assembly ("memory-safe") {
            mstore(parents, n)
        }
    }
}
