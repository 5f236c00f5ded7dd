"""Identity resolution against the synced directory of each backend."""

from __future__ import annotations

import pytest

from connectors.directory import GroupMembership, IdentityMapping
from connectors.org import guests_group, members_group
from indexer.backends import Stores
from retrieval.identity import IdentityError, IdentityResolver
from tests.retrieval.corpus import ORG


def test_user_gets_email_accounts_nested_groups_and_org(identities: IdentityResolver) -> None:
    principals = identities.resolve("  Alice@ACME.com ")
    assert principals == {
        "user:alice@acme.com",
        "account:slack:U1",
        "group:wiki:eng",
        "group:wiki:tech",  # through eng, nested
        "org:acme",
    }


def test_groups_reached_only_through_an_account_are_included(stores: Stores) -> None:
    stores.directory.replace_identities(
        "slack", [IdentityMapping(account="account:slack:U9", email="dan@acme.com")]
    )
    stores.directory.replace_groups(
        "slack",
        [GroupMembership(group="group:slack:C-ops", members=frozenset({"account:slack:U9"}))],
    )
    principals = IdentityResolver(stores.directory, ORG).resolve("dan@acme.com")
    assert {"account:slack:U9", "group:slack:C-ops"} <= principals


def test_cyclic_nesting_terminates_and_includes_every_group_on_the_cycle(stores: Stores) -> None:
    stores.directory.replace_groups(
        "wiki",
        [
            GroupMembership(
                group="group:wiki:a", members=frozenset({"user:erin@acme.com", "group:wiki:c"})
            ),
            GroupMembership(group="group:wiki:b", members=frozenset({"group:wiki:a"})),
            GroupMembership(group="group:wiki:c", members=frozenset({"group:wiki:b"})),
            GroupMembership(group="group:wiki:other", members=frozenset({"user:x@acme.com"})),
        ],
    )
    principals = IdentityResolver(stores.directory, ORG).resolve("erin@acme.com")
    assert principals == {
        "user:erin@acme.com",
        "group:wiki:a",
        "group:wiki:b",
        "group:wiki:c",
        "org:acme",
    }


def test_asserted_groups_are_ignored_unless_the_caller_is_trusted(
    identities: IdentityResolver,
) -> None:
    untrusted = identities.resolve("bob@acme.com", asserted_groups=["group:wiki:hr"])
    assert "group:wiki:hr" not in untrusted
    assert untrusted == {"user:bob@acme.com", "group:wiki:sales", "org:acme"}

    trusted = identities.resolve(
        "bob@acme.com",
        asserted_groups=["group:okta:eng-all", "group:wiki:eng"],
        trust_asserted=True,
    )
    # Asserted groups are expanded like synced ones: eng is nested in tech.
    assert {"group:okta:eng-all", "group:wiki:eng", "group:wiki:tech"} <= trusted


@pytest.mark.parametrize("bad", ["user:carol@acme.com", "org:acme", "not a principal", "group:"])
def test_a_trusted_caller_cannot_assert_anything_but_a_valid_group(
    identities: IdentityResolver, bad: str
) -> None:
    with pytest.raises(IdentityError):
        identities.resolve("bob@acme.com", asserted_groups=[bad], trust_asserted=True)


@pytest.mark.parametrize("email", ["", "bob", "bob@", "@acme.com", "bob smith@acme.com", "a:b@c"])
def test_invalid_email_is_a_clear_error(identities: IdentityResolver, email: str) -> None:
    with pytest.raises(IdentityError, match="cannot resolve caller"):
        identities.resolve(email)


def test_an_address_outside_the_organisation_gets_only_its_own_principal(stores: Stores) -> None:
    # Issue 7 item 8: every caller got org:<tenant>, so stranger@gmail.com read everything
    # shared org-wide.
    resolver = IdentityResolver(stores.directory, ORG)
    assert resolver.resolve("stranger@gmail.com") == {"user:stranger@gmail.com"}
    assert "org:acme" in resolver.resolve("dan@acme.com")
    assert "org:acme" not in resolver.resolve("dan@acme.com.evil.io")


def test_members_and_guests_of_the_organisation_come_from_its_settings(stores: Stores) -> None:
    org = ORG.model_copy(
        update={"members": frozenset({"pat@contractor.io"}), "guests": frozenset({"vic@acme.com"})}
    )
    resolver = IdentityResolver(stores.directory, org)
    assert "org:acme" in resolver.resolve("pat@contractor.io")
    assert "org:acme" not in resolver.resolve("vic@acme.com")


def test_a_group_that_contains_the_organisation_admits_its_members(stores: Stores) -> None:
    # Issue 7 item 17: org:<tenant> was added after group expansion, so such a group admitted
    # nobody.
    stores.directory.replace_groups(
        "wiki", [GroupMembership(group="group:wiki:all", members=frozenset({"org:acme"}))]
    )
    resolver = IdentityResolver(stores.directory, ORG)
    assert "group:wiki:all" in resolver.resolve("dan@acme.com")
    assert "group:wiki:all" not in resolver.resolve("stranger@gmail.com")


def test_a_look_alike_address_is_refused(stores: Stores) -> None:
    with pytest.raises(IdentityError):
        IdentityResolver(stores.directory, ORG).resolve("\u212aim@acme.com")


def test_org_members_and_guests_reported_by_a_trusted_source_count(stores: Stores) -> None:
    stores.directory.replace_groups(
        "wiki",
        [
            GroupMembership(
                group=members_group("wiki"), members=frozenset({"user:pat@contractor.io"})
            ),
            GroupMembership(group=guests_group("wiki"), members=frozenset({"user:vic@acme.com"})),
        ],
    )
    untrusted = IdentityResolver(stores.directory, ORG)
    assert "org:acme" not in untrusted.resolve("pat@contractor.io")
    assert "org:acme" in untrusted.resolve("vic@acme.com")  # the domain alone says member
    trusted = IdentityResolver(
        stores.directory, ORG.model_copy(update={"member_sources": frozenset({"wiki"})})
    )
    assert "org:acme" in trusted.resolve("pat@contractor.io")
    assert "org:acme" not in trusted.resolve("vic@acme.com")  # a guest, whatever the domain
