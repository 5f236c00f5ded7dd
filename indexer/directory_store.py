"""Synced group memberships and identity mappings, written by group runs, read by retrieval."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from connectors.directory import GroupMembership, IdentityMapping


@runtime_checkable
class DirectoryStore(Protocol):
    def replace_groups(self, source_id: str, memberships: Iterable[GroupMembership]) -> None:
        """Atomically replace every membership previously synced from ``source_id``."""

    def replace_identities(self, source_id: str, mappings: Iterable[IdentityMapping]) -> None:
        """Atomically replace every identity mapping previously synced from ``source_id``."""

    def groups_containing(self, members: Iterable[str]) -> set[str]:
        """Groups that directly contain any of ``members`` (one level; callers expand)."""

    def members_of(self, group: str) -> set[str]:
        """Direct members of ``group`` (one level)."""

    def accounts_of(self, email: str) -> set[str]:
        """Account principals mapped to the normalised ``email``."""


@runtime_checkable
class GenerationalDirectory(Protocol):
    def generation(self) -> str:
        """A token that changes whenever any replacement commits; equal tokens, equal contents."""
