// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./utils/Fixture.sol";
import {Ledger} from "../src/Ledger.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {TestStablecoin} from "../src/TestStablecoin.sol";
import {ILedgerHooks} from "../src/interfaces/ILedgerHooks.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract ModelRegistryTest is Fixture {
    // ---------------------------------------------------------------------------------- setLedger

    function test_setLedger_onlyOnce() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.LedgerAlreadySet.selector));
        registry.setLedger(ILedgerHooks(address(1)));
        assertEq(address(registry.ledger()), address(ledger));
    }

    function test_setLedger_onlyOwner() public {
        ModelRegistry fresh = new ModelRegistry(address(this));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        fresh.setLedger(ledger);

        vm.expectEmit(true, false, false, true, address(fresh));
        emit ModelRegistry.LedgerSet(address(ledger));
        fresh.setLedger(ledger);
    }

    function test_register_revertsWithoutLedger() public {
        ModelRegistry fresh = new ModelRegistry(address(this));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.LedgerNotSet.selector));
        fresh.register(_params(0, _ids()));
    }

    // ----------------------------------------------------------------------------------- register

    function test_register_storesEverythingAndMints() public {
        ModelRegistry.RegisterParams memory p = _params(250, _ids());
        p.kind = registry.KIND_DATASET();
        p.terms.flatFee = 5_000;
        p.terms.flatPeriod = 30 days;
        p.payees = _addrs(payee, alice);
        p.shares = _shares(6_000, 4_000);
        bytes32 termsHash = keccak256(abi.encode(p.terms, p.payees, p.shares));

        vm.expectEmit(true, true, false, true, address(registry));
        emit ModelRegistry.AssetRegistered(1, creator, 1, 250, p.parents, "", keccak256(""));
        vm.expectEmit(true, false, false, true, address(registry));
        emit ModelRegistry.CardPublished(1, 1, p.cardURI, p.cardHash);
        vm.expectEmit(true, false, false, true, address(registry));
        emit ModelRegistry.TermsUpdated(1, 1, p.terms, p.payees, p.shares, termsHash);
        uint256 id = _register(p);

        assertEq(id, 1);
        assertEq(registry.assetCount(), 1);
        assertEq(registry.ownerOf(1), creator);
        assertTrue(registry.exists(1));
        ModelRegistry.AssetView memory v = registry.getAsset(1);
        assertEq(v.owner, creator);
        assertEq(v.kind, 1);
        assertEq(v.royaltyBps, 250);
        assertEq(v.termsVersion, 1);
        assertEq(v.cardVersion, 1);
        assertEq(v.terms.token, address(token));
        assertEq(v.terms.pricePerCall, PRICE);
        assertEq(v.terms.flatFee, 5_000);
        assertEq(v.terms.flatPeriod, 30 days);
        assertEq(v.termsHash, termsHash);
        assertEq(registry.termsHashAt(1, 1), termsHash);
        assertEq(v.cardHash, p.cardHash);
        assertEq(bytes(v.cardURI), bytes(p.cardURI));
        assertEq(v.lineage, "");
        assertEq(v.lineageHash, keccak256(""));
        assertEq(v.payees.length, 2);
        assertEq(v.payees[1], alice);
        assertEq(v.shares[1], 4_000);
    }

    function test_register_freeAssetWithoutToken() public {
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.terms = ModelRegistry.Terms(address(0), 0, 0, 0);
        uint256 id = _register(p);
        (address tok, uint96 price,,) = registry.licenseInfo(id);
        assertEq(tok, address(0));
        assertEq(price, 0);
    }

    function test_register_idsAreSequential() public {
        assertEq(_register(0, _ids()), 1);
        assertEq(_register(0, _ids()), 2);
        assertEq(_register(0, _ids(1, 2)), 3);
        assertEq(registry.assetCount(), 3);
    }

    function test_register_rejectsInvalidKind() public {
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.kind = 2;
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.InvalidKind.selector, uint8(2)));
        _register(p);
    }

    function test_register_rejectsEmptyCard() public {
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.cardURI = "";
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.EmptyCard.selector));
        _register(p);

        p = _params(0, _ids());
        p.cardHash = bytes32(0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.EmptyCard.selector));
        _register(p);
    }

    function test_register_rejectsRoyaltyAboveCap() public {
        _register(5_000, _ids());
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.RoyaltyTooHigh.selector, uint16(5_001), 5_000));
        _register(5_001, _ids());
    }

    function test_register_rejectsPaidAssetWithoutToken() public {
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.terms = ModelRegistry.Terms(address(0), 1, 0, 0);
        vm.expectRevert(
            abi.encodeWithSelector(ModelRegistry.InvalidTerms.selector, "a paid asset needs a payment token")
        );
        _register(p);

        p.terms = ModelRegistry.Terms(address(0), 0, 1, 1 days);
        vm.expectRevert(
            abi.encodeWithSelector(ModelRegistry.InvalidTerms.selector, "a paid asset needs a payment token")
        );
        _register(p);
    }

    function test_register_rejectsTokenNotAllowed() public {
        TestStablecoin other = new TestStablecoin();
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.terms.token = address(other);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.TokenNotAllowed.selector, address(other)));
        _register(p);

        // an allowed token that is later disallowed is refused for new listings too
        ledger.setTokenAllowed(address(token), false);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.TokenNotAllowed.selector, address(token)));
        _register(_params(0, _ids()));
    }

    function test_register_rejectsFlatFeeWithoutPeriodAndPeriodWithoutFee() public {
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.terms.flatFee = 10;
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.InvalidTerms.selector, "a flat fee needs a period"));
        _register(p);

        p.terms.flatFee = 0;
        p.terms.flatPeriod = 1 days;
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.InvalidTerms.selector, "a period needs a flat fee"));
        _register(p);
    }

    function test_register_rejectsBadPayees() public {
        ModelRegistry.RegisterParams memory p = _params(0, _ids());

        p.payees = new address[](0);
        p.shares = new uint16[](0);
        _expectInvalidPayees(p, "between 1 and 8 payees");

        p.payees = new address[](9);
        p.shares = new uint16[](9);
        for (uint256 i; i < 9; ++i) {
            p.payees[i] = address(uint160(100 + i));
            p.shares[i] = i == 0 ? 2_000 : 1_000;
        }
        _expectInvalidPayees(p, "between 1 and 8 payees");

        p.payees = _addrs(payee, alice);
        p.shares = _shares(10_000);
        _expectInvalidPayees(p, "one share per payee");

        p.payees = _addrs(payee, address(0));
        p.shares = _shares(5_000, 5_000);
        _expectInvalidPayees(p, "zero address payee");

        p.payees = _addrs(payee, alice);
        p.shares = _shares(10_000, 0);
        _expectInvalidPayees(p, "zero share");

        p.payees = _addrs(payee, payee);
        p.shares = _shares(5_000, 5_000);
        _expectInvalidPayees(p, "duplicate payee");

        p.payees = _addrs(payee, alice);
        p.shares = _shares(5_000, 4_999);
        _expectInvalidPayees(p, "shares must sum to 10000");

        p.shares = _shares(5_000, 5_001);
        _expectInvalidPayees(p, "shares must sum to 10000");
    }

    function test_register_acceptsEightPayees() public {
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.payees = new address[](8);
        p.shares = new uint16[](8);
        for (uint256 i; i < 8; ++i) {
            p.payees[i] = address(uint160(100 + i));
            p.shares[i] = 1_250;
        }
        uint256 id = _register(p);
        (address[] memory payees, uint16[] memory shares) = registry.payeesOf(id);
        assertEq(payees.length, 8);
        assertEq(payees[7], address(107));
        assertEq(shares[7], 1_250);
    }

    function _expectInvalidPayees(ModelRegistry.RegisterParams memory p, string memory reason) internal {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.InvalidPayees.selector, reason));
        _register(p);
    }

    // ------------------------------------------------------------------------------------ lineage

    function test_register_flattensLineageSortedWithOwnRoyalties() public {
        uint256 a = _register(100, _ids()); // 1
        uint256 b = _register(0, _ids(a)); // 2: asks nothing, so it never appears in a vector
        uint256 c = _register(300, _ids()); // 3
        uint256 d = _register(200, _ids(c, b)); // 4: flattened {a:100, c:300}
        assertEq(registry.lineageOf(b), abi.encodePacked(uint64(a), uint16(100)));
        assertEq(registry.lineageOf(d), abi.encodePacked(uint64(a), uint16(100), uint64(c), uint16(300)), "d lineage");

        // e derives from d and a again: a is deduplicated, d joins with its own royalty
        uint256[] memory parents = _ids(d, a);
        bytes memory expected = abi.encodePacked(uint64(a), uint16(100), uint64(c), uint16(300), uint64(d), uint16(200));
        vm.expectEmit(true, true, false, true, address(registry));
        emit ModelRegistry.AssetRegistered(5, creator, 0, 0, parents, expected, keccak256(expected));
        uint256 e = _register(0, parents);
        assertEq(registry.lineageOf(e), expected, "e lineage");
        (,,, bytes32 lineageHash) = registry.licenseInfo(e);
        assertEq(lineageHash, keccak256(expected));
    }

    function test_register_rejectsNineParents() public {
        uint256[] memory parents = new uint256[](9);
        for (uint256 i; i < 9; ++i) {
            parents[i] = _register(1, _ids());
        }
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.TooManyParents.selector, 9, 8));
        _register(0, parents);
    }

    function test_register_rejectsDuplicateParent() public {
        uint256 a = _register(10, _ids());
        uint256 b = _register(10, _ids());
        uint256[] memory parents = new uint256[](3);
        parents[0] = a;
        parents[1] = b;
        parents[2] = a;
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.DuplicateParent.selector, a));
        _register(0, parents);
    }

    /// @dev A cycle would need a parent that does not exist yet: the asset's own future id.
    function test_register_rejectsUnknownOrFutureParent() public {
        uint256 a = _register(10, _ids());
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAsset.selector, a + 1));
        _register(0, _ids(a, a + 1));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAsset.selector, 0));
        _register(0, _ids(0));
        assertEq(registry.assetCount(), 1);
    }

    function test_register_capsAncestorsAt32() public {
        uint256 top = _lineageOf32();
        assertEq(registry.lineageOf(top).length, 32 * 10, "32 ancestors are fine");
        uint256 extra = _register(1, _ids());
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.TooManyAncestors.selector, 33, 32));
        _register(0, _ids(top, extra));
    }

    function test_register_capsLineageBpsAt5000() public {
        uint256 a = _register(3_000, _ids());
        uint256 b = _register(2_000, _ids());
        uint256 ok = _register(0, _ids(a, b));
        assertEq(registry.lineageOf(ok).length, 20);
        uint256 c = _register(1, _ids());
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.LineageTooExpensive.selector, 5_001, 5_000));
        _register(0, _ids(ok, c));
    }

    // -------------------------------------------------------------------------------- publishCard

    function test_publishCard_byOwnerBumpsVersion() public {
        uint256 id = _register(0, _ids());
        vm.expectEmit(true, false, false, true, address(registry));
        emit ModelRegistry.CardPublished(id, 2, "ipfs://v2", keccak256("v2"));
        vm.prank(creator);
        registry.publishCard(id, "ipfs://v2", keccak256("v2"));
        ModelRegistry.AssetView memory v = registry.getAsset(id);
        assertEq(v.cardVersion, 2);
        assertEq(v.cardHash, keccak256("v2"));
        assertEq(bytes(v.cardURI), bytes("ipfs://v2"));
        assertEq(v.termsVersion, 1, "card changes leave terms alone");
    }

    function test_publishCard_byApprovedOperators() public {
        uint256 id = _register(0, _ids());
        vm.prank(creator);
        registry.approve(alice, id);
        vm.prank(alice);
        registry.publishCard(id, "ipfs://a", keccak256("a"));

        vm.prank(creator);
        registry.setApprovalForAll(bob, true);
        vm.prank(bob);
        registry.publishCard(id, "ipfs://b", keccak256("b"));
        assertEq(registry.getAsset(id).cardVersion, 3);
    }

    function test_publishCard_rejectsStrangerEmptyAndUnknown() public {
        uint256 id = _register(0, _ids());
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotAssetOperator.selector, id, alice));
        registry.publishCard(id, "ipfs://x", keccak256("x"));

        vm.startPrank(creator);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.EmptyCard.selector));
        registry.publishCard(id, "", keccak256("x"));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.EmptyCard.selector));
        registry.publishCard(id, "ipfs://x", bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAsset.selector, 99));
        registry.publishCard(99, "ipfs://x", keccak256("x"));
        vm.stopPrank();
    }

    function test_operatorRightsFollowTheNft() public {
        uint256 id = _register(0, _ids());
        vm.prank(creator);
        registry.transferFrom(creator, alice, id);
        vm.prank(creator);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotAssetOperator.selector, id, creator));
        registry.publishCard(id, "ipfs://x", keccak256("x"));
        vm.prank(alice);
        registry.publishCard(id, "ipfs://x", keccak256("x"));
        assertEq(registry.getAsset(id).owner, alice);
    }

    // -------------------------------------------------------------------------------- updateTerms

    function test_updateTerms_newVersionAndHash() public {
        uint256 id = _register(0, _ids());
        ModelRegistry.Terms memory t = ModelRegistry.Terms(address(token), 7, 100, 1 days);
        address[] memory payees = _addrs(alice, bob);
        uint16[] memory shares = _shares(1, 9_999);
        bytes32 termsHash = keccak256(abi.encode(t, payees, shares));

        vm.expectEmit(true, false, false, true, address(registry));
        emit ModelRegistry.TermsUpdated(id, 2, t, payees, shares, termsHash);
        vm.prank(creator);
        registry.updateTerms(id, t, payees, shares);

        (address tok, uint96 price, uint32 version,) = registry.licenseInfo(id);
        assertEq(tok, address(token));
        assertEq(price, 7);
        assertEq(version, 2);
        (, uint96 fee, uint32 period,,) = registry.flatFeeInfo(id);
        assertEq(fee, 100);
        assertEq(period, 1 days);
        assertEq(registry.termsHashAt(id, 2), termsHash);
        assertTrue(registry.termsHashAt(id, 1) != termsHash, "version 1 hash kept");
        (address[] memory got,) = registry.payeesOf(id);
        assertEq(got[0], alice);
        assertEq(got[1], bob);
    }

    /// @dev Credits earned under the old payees must reach them, not the new ones.
    function test_updateTerms_flushesCreditsToOldPayees() public {
        address oldA = makeAddr("oldA");
        address oldB = makeAddr("oldB");
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.payees = _addrs(oldA, oldB);
        p.shares = _shares(3_333, 6_667);
        uint256 id = _register(p);

        _fund(alice, 1_000);
        (Ledger.LaneKey memory key,) = _open(alice, id, 1_000);
        bytes memory lanes = _entry(key, 1_000);
        vm.prank(alice);
        ledger.redeem(alice, address(token), lanes, "");
        assertEq(ledger.creditOf(address(token), id), 1_000);

        vm.expectEmit(true, true, false, true, address(ledger));
        emit Ledger.Distributed(id, address(token), 1_000);
        vm.prank(creator);
        registry.updateTerms(id, _terms(PRICE), _addrs(alice), _shares(10_000));

        assertEq(ledger.creditOf(address(token), id), 0);
        assertEq(ledger.balanceOf(address(token), oldA), 334, "first payee takes the remainder");
        assertEq(ledger.balanceOf(address(token), oldB), 666);
        assertEq(ledger.balanceOf(address(token), alice), 0, "new payee gets nothing earned before");
    }

    /// @dev The flush covers every token the asset was ever credited in, not only its current one.
    function test_updateTerms_flushesEveryToken() public {
        TestStablecoin second = new TestStablecoin();
        ledger.setTokenAllowed(address(second), true);
        address oldPayee = makeAddr("oldPayee");
        ModelRegistry.RegisterParams memory p = _params(0, _ids());
        p.payees = _addrs(oldPayee);
        uint256 id = _register(p);
        _fund(alice, 100);
        (Ledger.LaneKey memory k1,) = _open(alice, id, 100);

        // switch the asset to the second token, keeping the same payee, and earn in it too
        vm.prank(creator);
        registry.updateTerms(id, ModelRegistry.Terms(address(second), PRICE, 0, 0), _addrs(oldPayee), _shares(10_000));
        second.mint(alice, 50);
        vm.startPrank(alice);
        second.approve(address(ledger), 50);
        ledger.openLicense(id, 50, T0 + 1 days, PRICE, 50);
        vm.stopPrank();
        (,, uint32 tv, bytes32 lh) = registry.licenseInfo(id);
        Ledger.LaneKey memory k2 = Ledger.LaneKey(alice, address(second), uint64(id), tv, lh, ledger.laneCount());
        bytes memory l1 = _entry(k1, 100);
        bytes memory l2 = _entry(k2, 50);
        vm.startPrank(alice);
        ledger.redeem(alice, address(token), l1, "");
        ledger.redeem(alice, address(second), l2, "");
        vm.stopPrank();

        vm.prank(creator);
        registry.updateTerms(id, _terms(PRICE), _addrs(bob), _shares(10_000));
        assertEq(ledger.balanceOf(address(token), oldPayee), 100);
        assertEq(ledger.balanceOf(address(second), oldPayee), 50);
        assertEq(ledger.creditOf(address(token), id), 0);
        assertEq(ledger.creditOf(address(second), id), 0);
    }

    function test_updateTerms_oldLanesKeepTheirVersion() public {
        uint256 id = _register(0, _ids());
        _fund(alice, 2_000);
        (Ledger.LaneKey memory oldKey,) = _open(alice, id, 1_000);
        vm.prank(creator);
        registry.updateTerms(id, _terms(PRICE * 2), _addrs(bob), _shares(10_000));
        (Ledger.LaneKey memory newKey,) = _open(alice, id, 1_000);
        assertEq(oldKey.termsVersion, 1);
        assertEq(newKey.termsVersion, 2);

        bytes memory lanes = abi.encodePacked(_entry(oldKey, 400), _entry(newKey, 600));
        vm.prank(alice);
        ledger.redeem(alice, address(token), lanes, "");
        assertEq(_claimed(ledger.laneIdOf(oldKey)), 400);

        // naming the old lane under the new version names no lane
        Ledger.LaneKey memory forged = _withVersion(oldKey, 2);
        lanes = _entry(forged, 500);
        vm.expectRevert(abi.encodeWithSelector(Ledger.UnknownLane.selector, ledger.laneIdOf(forged)));
        vm.prank(alice);
        ledger.redeem(alice, address(token), lanes, "");

        // what the old lane earns after the change goes to the current payees
        ledger.distribute(id, address(token));
        assertEq(ledger.balanceOf(address(token), bob), 1_000);
    }

    function _withVersion(Ledger.LaneKey memory k, uint32 v) internal pure returns (Ledger.LaneKey memory) {
        return Ledger.LaneKey(k.payer, k.token, k.modelId, v, k.lineageHash, k.seq);
    }

    function test_updateTerms_rejectsStrangerAndBadTerms() public {
        uint256 id = _register(0, _ids());
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotAssetOperator.selector, id, alice));
        registry.updateTerms(id, _terms(1), _addrs(alice), _shares(10_000));

        vm.startPrank(creator);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAsset.selector, 42));
        registry.updateTerms(42, _terms(1), _addrs(alice), _shares(10_000));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.TokenNotAllowed.selector, address(7)));
        registry.updateTerms(id, ModelRegistry.Terms(address(7), 1, 0, 0), _addrs(alice), _shares(10_000));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.InvalidPayees.selector, "shares must sum to 10000"));
        registry.updateTerms(id, _terms(1), _addrs(alice), _shares(9_999));
        vm.stopPrank();
        (,, uint32 version,) = registry.licenseInfo(id);
        assertEq(version, 1);
    }

    function test_updateTerms_byApprovedOperator() public {
        uint256 id = _register(0, _ids());
        vm.prank(creator);
        registry.setApprovalForAll(alice, true);
        vm.prank(alice);
        registry.updateTerms(id, _terms(9), _addrs(alice), _shares(10_000));
        (, uint96 price,,) = registry.licenseInfo(id);
        assertEq(price, 9);
    }

    // -------------------------------------------------------------------------------------- views

    function test_views_revertForUnknownAsset() public {
        assertFalse(registry.exists(1));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAsset.selector, 1));
        registry.licenseInfo(1);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAsset.selector, 1));
        registry.flatFeeInfo(1);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAsset.selector, 1));
        registry.payeesOf(1);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAsset.selector, 1));
        registry.lineageOf(1);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAsset.selector, 1));
        registry.getAsset(1);
    }

    function test_flatFeeInfo_returnsLineage() public {
        uint256 a = _register(700, _ids());
        ModelRegistry.RegisterParams memory p = _params(0, _ids(a));
        p.terms.flatFee = 55;
        p.terms.flatPeriod = 7 days;
        uint256 b = _register(p);
        (address tok, uint96 fee, uint32 period, uint32 version, bytes memory lineage) = registry.flatFeeInfo(b);
        assertEq(tok, address(token));
        assertEq(fee, 55);
        assertEq(period, 7 days);
        assertEq(version, 1);
        assertEq(lineage, abi.encodePacked(uint64(a), uint16(700)));
    }
}
