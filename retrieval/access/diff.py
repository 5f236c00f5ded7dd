"""What a person could see then and cannot now, and the reverse: the access diff since a time.

``access_diff(stores, resolver, user_email, since, *, offset=0, limit=50) -> AccessDiff``

For incident review ("what could Bob see after his removal from HR at 14:00?"). Two states are
compared, each with the search path's own matching (``retrieval.identity.IdentityResolver`` for
principals, ``retrieval.acl_check.is_visible`` for an ACL against them):

- *now*: the principals the resolver gives the user now and the ACL the index holds now; every
  listed document still in the index is confirmed with ``search_visible``, the explainer's copy
  of ``Searcher.get_document``, so "visible now" is what search serves.
- *then* (at ``since``): both reconstructed from the access journal (``indexer.access_journal``):
  a document's ACL at ``since`` is the ``before`` of its first journaled change stamped at or
  after ``since`` (else the ACL it has now); a membership held at ``since`` likewise, and the
  same resolver code runs over that directory (``DirectoryAsOf``).

A document is *hidden* when visible then and not now (``deleted`` when the index no longer holds
it) and *visible* when the reverse. Each comes with the journaled changes that did it: its own ACL
changes and the membership changes, among the user's principals, that lead to its ACL.

Identity mappings and the org policy are taken as they are now (they are not journaled). The
answer names document ids, titles of documents the index still holds and ACL principals (what
the explainer shows an admin) and never content; a deleted document's title is not kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from indexer import principals as p
from indexer.access_journal import (
    AccessJournal,
    AclChange,
    MembershipChange,
    access_journal_for,
)
from indexer.backends import Stores
from indexer.directory_store import DirectoryStore
from retrieval.access.explain import indexed_acl, search_visible
from retrieval.acl_check import is_visible
from retrieval.identity import IdentityError, IdentityResolver

__all__ = [
    "AccessDiff",
    "DiffItem",
    "DiffUnavailableError",
    "DirectoryAsOf",
    "IdentityError",
    "JournalChange",
    "access_diff",
    "parse_since",
]

MAX_LIMIT = 500
_RELATIVE = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class DiffUnavailableError(ValueError):
    """The journal cannot answer for that time (it does not reach back so far, or a backend
    without a journal)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


ChangeKind = Literal[
    "document_created",
    "acl_changed",
    "document_deleted",
    "membership_added",
    "membership_removed",
]


class JournalChange(_Model):
    """One journaled change that moved the document's visibility for the user."""

    kind: ChangeKind
    at: datetime
    run_id: str
    run_type: str = ""
    source_id: str
    doc_id: str | None = None
    group: str | None = None
    # ACL changes: the user's principals (then or now) the ACL gained or lost. Membership
    # changes: the user's principals added to or removed from ``group``.
    principals_added: list[str] = Field(default_factory=list)
    principals_removed: list[str] = Field(default_factory=list)


class DiffItem(_Model):
    doc_id: str
    source_id: str
    change: Literal["hidden", "visible"]
    # Hidden because the index no longer holds the document (deleted or pruned).
    deleted: bool = False
    # From the index now; None for a document it no longer holds.
    title: str | None = None
    # The ACL principals the user held at ``since`` and holds now.
    matched_then: list[str] = Field(default_factory=list)
    matched_now: list[str] = Field(default_factory=list)
    changes: list[JournalChange] = Field(default_factory=list)


class AccessDiff(_Model):
    user: str
    since: datetime
    until: datetime
    journal_covers_from: datetime | None = None
    principals_gained: list[str] = Field(default_factory=list)
    principals_lost: list[str] = Field(default_factory=list)
    total: int = 0
    hidden: int = 0
    visible: int = 0
    offset: int = 0
    limit: int = 0
    items: list[DiffItem] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


def parse_since(text: str, now: datetime) -> datetime:
    """An ISO time (a naive one is UTC) or a relative one: ``30m``, ``2h``, ``3d``, ``1w``."""
    relative = _RELATIVE.match(text)
    if relative is not None:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r} is neither an ISO time (2026-03-01T14:00:00Z) nor relative "
            "(30m, 2h, 3d, 1w)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class DirectoryAsOf:
    """The synced directory as it was at ``since``: the directory now, with every membership
    changed since put back as its first journaled change found it. Read-only."""

    def __init__(self, now: DirectoryStore, changes: Iterable[MembershipChange]) -> None:
        self._now = now
        # (group, member) -> held at ``since``: the state before its first change since.
        self._then: dict[tuple[str, str], bool] = {}
        for change in changes:
            for member in change.added:
                self._then.setdefault((change.group, member), False)
            for member in change.removed:
                self._then.setdefault((change.group, member), True)
        self._by_member: dict[str, dict[str, bool]] = {}
        self._by_group: dict[str, dict[str, bool]] = {}
        for (group, member), held in self._then.items():
            self._by_member.setdefault(member, {})[group] = held
            self._by_group.setdefault(group, {})[member] = held

    def groups_containing(self, members: Iterable[str]) -> set[str]:
        wanted = set(members)
        found = set()
        for group in self._now.groups_containing(wanted):
            changed = {m for m in wanted if (group, m) in self._then}
            if not changed or (self._now.members_of(group) & (wanted - changed)):
                found.add(group)
        for member in wanted:
            found |= {g for g, held in self._by_member.get(member, {}).items() if held}
        return found

    def members_of(self, group: str) -> set[str]:
        members = self._now.members_of(group)
        for member, held in self._by_group.get(group, {}).items():
            if held:
                members.add(member)
            else:
                members.discard(member)
        return members

    def accounts_of(self, email: str) -> set[str]:
        return self._now.accounts_of(email)  # identity mappings are not journaled

    def replace_groups(self, source_id: str, memberships: Iterable[object]) -> None:
        raise TypeError("the directory as of a past time is read-only")

    def replace_identities(self, source_id: str, mappings: Iterable[object]) -> None:
        raise TypeError("the directory as of a past time is read-only")


def _journal(stores: Stores) -> AccessJournal:
    journal = access_journal_for(stores.index)
    if journal is None:
        raise DiffUnavailableError("this index backend keeps no access journal")
    return journal


def access_diff(
    stores: Stores,
    resolver: IdentityResolver,
    user_email: str,
    since: datetime,
    *,
    offset: int = 0,
    limit: int = 50,
    now: datetime | None = None,
) -> AccessDiff:
    """Raises ``IdentityError`` for an address the resolver refuses (as search does) and
    ``DiffUnavailableError`` when the journal does not reach back to ``since``."""
    offset = max(offset, 0)
    limit = min(max(limit, 0), MAX_LIMIT)
    until = now or datetime.now(UTC)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    if since > until:
        raise DiffUnavailableError(f"since ({since.isoformat()}) is in the future")
    principals_now = resolver.resolve(user_email)  # raises IdentityError like the search path
    address = p.normalise_email(user_email)
    journal = _journal(stores)
    covers = journal.covers_from()
    if covers is None:
        raise DiffUnavailableError(
            "the access journal holds no entries yet (it starts with the first run that "
            "changes an ACL or a membership): no change is known"
        )
    if since < covers:
        raise DiffUnavailableError(
            f"the access journal is complete from {covers.isoformat()} only (it keeps "
            f"{journal.keep.days} days): ask for a later --since"
        )
    changes = list(journal.changes_since(since))
    memberships = [c for c in changes if isinstance(c, MembershipChange)]
    acl_entries = [c for c in changes if isinstance(c, AclChange)]
    directory_then = DirectoryAsOf(resolver.directory, memberships)
    resolver_then = IdentityResolver(directory_then, resolver.org, cache_size=0)
    principals_then = resolver_then.resolve(address)
    gained, lost = principals_now - principals_then, principals_then - principals_now

    by_doc: dict[str, list[AclChange]] = {}
    for entry in acl_entries:
        by_doc.setdefault(entry.doc_id, []).append(entry)
    acl_then: dict[str, frozenset[str] | None] = {d: e[0].before for d, e in by_doc.items()}
    acl_now: dict[str, frozenset[str] | None] = dict.fromkeys(by_doc)
    acl_now.update(journal.acls_of(sorted(by_doc)))
    for doc_id, acl in journal.docs_admitting(gained | lost):
        if doc_id not in by_doc:
            acl_then[doc_id] = acl_now[doc_id] = acl

    moved: list[tuple[str, bool]] = []
    for doc_id in sorted(acl_then):
        then = acl_then[doc_id]
        current = acl_now[doc_id]
        was = then is not None and is_visible(then, principals_then)
        is_ = current is not None and is_visible(current, principals_now)
        if was != is_:
            moved.append((doc_id, is_))
    page = moved[offset : offset + limit]
    notes: list[str] = []
    reach = _Reach(resolver, resolver_then)
    held = principals_then | principals_now
    relevant = [m for m in memberships if (m.added | m.removed) & held]
    items = []
    for doc_id, visible_now in page:
        then, current = acl_then[doc_id], acl_now[doc_id]
        stored = indexed_acl(stores, doc_id) if current is not None else None
        if current is not None and search_visible(stores.index, principals_now, doc_id) != (
            visible_now
        ):
            # Only a backend or index bug can make the filter disagree with the stored ACL.
            notes.append(f"{doc_id}: search and the stored ACL disagree: report this as a bug")
        acls = (then or frozenset()) | (current or frozenset())
        items.append(
            DiffItem(
                doc_id=doc_id,
                source_id=doc_id.split(":", 1)[0],
                change="visible" if visible_now else "hidden",
                deleted=current is None,
                title=stored.title if stored is not None else None,
                matched_then=sorted((then or frozenset()) & principals_then),
                matched_now=sorted((current or frozenset()) & principals_now),
                changes=[
                    *(_acl_change(e, held) for e in by_doc.get(doc_id, [])),
                    # Memberships leading to the ACL, and those a run expanded into it (a
                    # source that writes group members into the ACLs it gives).
                    *(
                        _membership_change(m, held)
                        for m in relevant
                        if reach.leads_to(m.group, acls) or _expanded(m, by_doc.get(doc_id, []))
                    ),
                ],
            )
        )
    hidden = sum(1 for _, visible_now in moved if not visible_now)
    return AccessDiff(
        user=address,
        since=since,
        until=until,
        journal_covers_from=covers,
        principals_gained=sorted(gained),
        principals_lost=sorted(lost),
        total=len(moved),
        hidden=hidden,
        visible=len(moved) - hidden,
        offset=offset,
        limit=limit,
        items=items,
        notes=notes,
    )


class _Reach:
    """Which principals a group leads to (itself and every group containing it, at ``since``
    or now): a membership change matters to a document whose ACL it leads to."""

    def __init__(self, *resolvers: IdentityResolver) -> None:
        self._directories = [r.directory for r in resolvers]
        self._cache: dict[str, set[str]] = {}

    def leads_to(self, group: str, acl: frozenset[str]) -> bool:
        if group not in self._cache:
            reached = {group}
            for directory in self._directories:
                frontier = {group}
                seen = {group}
                while frontier:
                    parents = directory.groups_containing(frontier) - seen
                    seen |= parents
                    frontier = parents
                reached |= seen
            self._cache[group] = reached
        return not self._cache[group].isdisjoint(acl)


def _expanded(membership: MembershipChange, acl_changes: list[AclChange]) -> bool:
    """Whether a change of the same run moved the members this membership change moved, in
    the same direction (the run recomputed the ACL from the new memberships)."""
    for entry in acl_changes:
        if entry.run_id != membership.run_id:
            continue
        before, after = entry.before or frozenset(), entry.after or frozenset()
        if (after - before) & membership.added or (before - after) & membership.removed:
            return True
    return False


def _acl_change(entry: AclChange, held: frozenset[str]) -> JournalChange:
    before, after = entry.before or frozenset(), entry.after or frozenset()
    kind: ChangeKind = (
        "document_created"
        if entry.before is None
        else "document_deleted"
        if entry.after is None
        else "acl_changed"
    )
    return JournalChange(
        kind=kind,
        at=entry.at,
        run_id=entry.run_id,
        run_type=entry.run_type,
        source_id=entry.source_id,
        doc_id=entry.doc_id,
        principals_added=sorted((after - before) & held),
        principals_removed=sorted((before - after) & held),
    )


def _membership_change(entry: MembershipChange, held: frozenset[str]) -> JournalChange:
    return JournalChange(
        kind="membership_added" if entry.added & held else "membership_removed",
        at=entry.at,
        run_id=entry.run_id,
        run_type=entry.run_type,
        source_id=entry.source_id,
        group=entry.group,
        principals_added=sorted(entry.added & held),
        principals_removed=sorted(entry.removed & held),
    )
