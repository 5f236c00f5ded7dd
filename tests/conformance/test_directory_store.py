"""The synced directory on both backends: per-source atomic replacement of groups and identities."""

from __future__ import annotations

import pytest

from connectors.directory import GroupMembership, IdentityMapping
from indexer.backends import Stores

ALICE = "user:alice@example.com"
BOB = "user:bob@example.com"


def test_groups_are_replaced_per_source(stores: Stores) -> None:
    directory = stores.directory
    directory.replace_groups(
        "wiki",
        [
            GroupMembership(group="group:wiki:eng", members={ALICE, "group:wiki:platform"}),
            GroupMembership(group="group:wiki:platform", members={BOB}),
        ],
    )
    directory.replace_groups(
        "slack", [GroupMembership(group="group:slack:C1", members={ALICE, "account:slack:U2"})]
    )
    assert directory.groups_containing([ALICE]) == {"group:wiki:eng", "group:slack:C1"}
    assert directory.groups_containing([BOB, "group:wiki:platform"]) == {
        "group:wiki:platform",
        "group:wiki:eng",
    }
    assert directory.members_of("group:wiki:eng") == {ALICE, "group:wiki:platform"}
    assert directory.groups_containing([]) == set()

    # A new sync of one source replaces all of that source's memberships and nothing else.
    directory.replace_groups("wiki", [GroupMembership(group="group:wiki:eng", members={BOB})])
    assert directory.groups_containing([ALICE]) == {"group:slack:C1"}
    assert directory.members_of("group:wiki:platform") == set()
    assert directory.members_of("group:wiki:eng") == {BOB}

    directory.replace_groups("slack", [])
    assert directory.groups_containing([ALICE]) == set()
    assert directory.members_of("group:slack:C1") == set()


def test_a_failing_membership_stream_leaves_the_previous_memberships(stores: Stores) -> None:
    directory = stores.directory
    directory.replace_groups("wiki", [GroupMembership(group="group:wiki:eng", members={ALICE})])

    def broken():
        yield GroupMembership(group="group:wiki:eng", members={BOB})
        raise RuntimeError("source went away mid-listing")

    with pytest.raises(RuntimeError):
        directory.replace_groups("wiki", broken())
    assert directory.members_of("group:wiki:eng") == {ALICE}


def test_identities_are_replaced_per_source(stores: Stores) -> None:
    directory = stores.directory
    directory.replace_identities(
        "slack",
        [
            IdentityMapping(account="account:slack:U1", email="Alice@Example.com"),
            IdentityMapping(account="account:slack:U2", email="bob@example.com"),
        ],
    )
    directory.replace_identities(
        "jira", [IdentityMapping(account="account:jira:557058", email="alice@example.com")]
    )
    assert directory.accounts_of("alice@example.com") == {
        "account:slack:U1",
        "account:jira:557058",
    }
    assert directory.accounts_of("bob@example.com") == {"account:slack:U2"}
    assert directory.accounts_of("carol@example.com") == set()

    directory.replace_identities(
        "slack", [IdentityMapping(account="account:slack:U3", email="alice@example.com")]
    )
    assert directory.accounts_of("alice@example.com") == {
        "account:slack:U3",
        "account:jira:557058",
    }
    assert directory.accounts_of("bob@example.com") == set()


def test_two_groups_containing_each_other_are_two_memberships(stores: Stores) -> None:
    # OpenSearch deduplicated rows by their sorted values, so "a contains b" and "b contains a"
    # collapsed into one row: half of a cycle vanished (found by the HTTP ACL property test).
    stores.directory.replace_groups(
        "wiki",
        [
            GroupMembership(group="group:wiki:a", members={"group:wiki:b"}),
            GroupMembership(group="group:wiki:b", members={"group:wiki:a"}),
        ],
    )
    assert stores.directory.members_of("group:wiki:a") == {"group:wiki:b"}
    assert stores.directory.members_of("group:wiki:b") == {"group:wiki:a"}
    assert stores.directory.groups_containing(["group:wiki:a"]) == {"group:wiki:b"}
