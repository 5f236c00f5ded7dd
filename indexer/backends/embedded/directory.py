"""Synced group memberships and identity mappings in the embedded file."""

from __future__ import annotations

from collections.abc import Iterable

from connectors.directory import GroupMembership, IdentityMapping
from connectors.principals import normalise_email
from indexer.backends.embedded.database import Database
from indexer.backends.embedded.rows import to_json


class EmbeddedDirectoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def replace_groups(self, source_id: str, memberships: Iterable[GroupMembership]) -> None:
        # One transaction: readers see the old memberships or the new ones, never a mix, and an
        # iterable that fails halfway leaves the old ones in place.
        with self.db.write() as conn:
            conn.execute("DELETE FROM group_members WHERE source_id = ?", (source_id,))
            for membership in memberships:
                conn.executemany(
                    "INSERT OR IGNORE INTO group_members (source_id, group_name, member)"
                    " VALUES (?, ?, ?)",
                    [(source_id, membership.group, member) for member in membership.members],
                )

    def replace_identities(self, source_id: str, mappings: Iterable[IdentityMapping]) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM identities WHERE source_id = ?", (source_id,))
            conn.executemany(
                "INSERT INTO identities (source_id, account, email) VALUES (?, ?, ?)"
                " ON CONFLICT (source_id, account) DO UPDATE SET email = excluded.email",
                ((source_id, mapping.account, mapping.email) for mapping in mappings),
            )

    def groups_containing(self, members: Iterable[str]) -> set[str]:
        wanted = sorted(set(members))
        if not wanted:
            return set()
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT group_name FROM group_members"
                " WHERE member IN (SELECT value FROM json_each(?))",
                (to_json(wanted),),
            ).fetchall()
        return {row[0] for row in rows}

    def members_of(self, group: str) -> set[str]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT member FROM group_members WHERE group_name = ?", (group,)
            ).fetchall()
        return {row[0] for row in rows}

    def accounts_of(self, email: str) -> set[str]:
        try:
            address = normalise_email(email)
        except ValueError:
            return set()
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT account FROM identities WHERE email = ?", (address,)
            ).fetchall()
        return {row[0] for row in rows}
