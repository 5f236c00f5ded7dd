"""The per-caller identity cache: repeat callers skip the directory, revocations never cached."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from connectors.directory import GroupMembership, IdentityMapping
from indexer.backends import Stores
from indexer.directory_store import DirectoryStore, GenerationalDirectory
from retrieval.identity import IdentityResolver
from tests.retrieval.corpus import ORG, sync_directory


@pytest.fixture
def dimension() -> int:
    """No vectors here: no need to load the model the retrieval fixtures use."""
    return 8


class CountingDirectory:
    """The real store, with its reads counted."""

    def __init__(self, inner: DirectoryStore) -> None:
        self.inner = inner
        self.reads = 0

    def replace_groups(self, source_id: str, memberships: Iterable[GroupMembership]) -> None:
        self.inner.replace_groups(source_id, memberships)

    def replace_identities(self, source_id: str, mappings: Iterable[IdentityMapping]) -> None:
        self.inner.replace_identities(source_id, mappings)

    def groups_containing(self, members: Iterable[str]) -> set[str]:
        self.reads += 1
        return self.inner.groups_containing(members)

    def members_of(self, group: str) -> set[str]:
        self.reads += 1
        return self.inner.members_of(group)

    def accounts_of(self, email: str) -> set[str]:
        self.reads += 1
        return self.inner.accounts_of(email)

    def generation(self) -> str:
        assert isinstance(self.inner, GenerationalDirectory)
        return self.inner.generation()


def test_a_revoked_membership_or_account_is_never_served_from_the_cache(stores: Stores) -> None:
    sync_directory(stores)
    resolver = IdentityResolver(stores.directory, ORG)
    for _ in range(2):  # the second answer may come from the cache
        assert {"group:wiki:eng", "group:wiki:tech", "account:slack:U1"} <= resolver.resolve(
            "alice@acme.com"
        )

    # Alice leaves eng (a groups run elsewhere writes the directory, not this resolver).
    stores.directory.replace_groups(
        "wiki",
        [
            GroupMembership(group="group:wiki:eng", members=frozenset({"user:bob@acme.com"})),
            GroupMembership(group="group:wiki:tech", members=frozenset({"group:wiki:eng"})),
        ],
    )
    after = resolver.resolve("alice@acme.com")
    assert "group:wiki:eng" not in after and "group:wiki:tech" not in after
    assert "group:wiki:eng" in resolver.resolve("bob@acme.com")

    stores.directory.replace_identities("slack", [])
    assert "account:slack:U1" not in resolver.resolve("alice@acme.com")


@pytest.mark.opensearch
@pytest.mark.parametrize("backend_kind", ["opensearch"], indirect=True)
def test_repeat_callers_are_answered_without_reading_the_directory(stores: Stores) -> None:
    sync_directory(stores)
    directory = CountingDirectory(stores.directory)
    resolver = IdentityResolver(directory, ORG)
    alice = resolver.resolve("alice@acme.com")
    assert directory.reads > 0
    directory.reads = 0
    assert resolver.resolve("Alice@ACME.com") == alice
    assert directory.reads == 0

    # Another caller, or the same one with trusted asserted groups, is resolved afresh.
    bob = resolver.resolve("bob@acme.com")
    assert directory.reads > 0 and "group:wiki:eng" not in bob
    asserted = resolver.resolve(
        "alice@acme.com", asserted_groups=["group:wiki:sales"], trust_asserted=True
    )
    assert "group:wiki:sales" in asserted and "group:wiki:sales" not in alice
