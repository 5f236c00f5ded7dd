"""A durable journal of access changes: what each run changed in who may see what.

Two kinds of entry, each stamped with the run's injected clock, its run id and source:

- ``AclChange``: a document's effective ACL as the index holds it changed: a new document
  (``before`` None), an ACL or content write with a different ACL, a deletion or prune
  (``after`` None). ``before`` is read from the index just before the write, so it is what the
  index held then, whatever the journal knew.
- ``MembershipChange``: a groups run replaced a source's memberships and the group's direct
  members changed (``added``, ``removed``).

Entries are written *before* the index or directory write they describe, in the same batch: a
journal that cannot be written stops the run before anything changes, so the journal never
misses a change the index made. An entry whose write the index then refused is discarded; one
left behind by a process that died in between names a change that did not happen, and is
harmless: its ``before`` is what the index held at that time, which is all the access diff
(``retrieval.access.diff``) reads to reconstruct the past.

The journal keeps ``keep`` (``IndexSettings.access_journal_days``, default 90 days) of entries;
older ones are dropped as new ones are written, and ``covers_from`` says from when it is
complete. Both backends hold it beside the index: a table in the embedded file and an index
``<prefix>-access-journal`` in OpenSearch. ``access_journal_for`` finds the journal of an index.

The journal store also reads what the index and directory hold now (``acls_of``,
``memberships_of``, ``docs_admitting``): the backend-specific reads the journal writers and the
access diff need. Nothing here decides what a caller may see.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from connectors.directory import GroupMembership
from indexer.backend import IndexBackend, IndexUnavailableError
from indexer.directory_store import DirectoryStore
from indexer.retry import RetryPolicy

DEFAULT_KEEP = timedelta(days=90)
# Dropping old entries is a scan: at most once per this much journal time, per process.
PRUNE_EVERY = timedelta(hours=1)


class AccessJournalError(IndexUnavailableError):
    """The journal cannot be written or read: the run stops (after the same bounded retries)
    exactly as for an index that refuses writes."""


def _entry_id() -> str:
    return uuid.uuid4().hex


class AclChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["acl"] = "acl"
    entry_id: str = Field(default_factory=_entry_id)
    at: datetime
    run_id: str
    run_type: str = ""
    source_id: str
    doc_id: str
    # None: the index did not hold the document (before) / no longer holds it (after).
    before: frozenset[str] | None
    after: frozenset[str] | None
    # Write order, assigned by the store when the entry is read back (0 before that).
    seq: int = 0


class MembershipChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["membership"] = "membership"
    entry_id: str = Field(default_factory=_entry_id)
    at: datetime
    run_id: str
    run_type: str = ""
    source_id: str
    group: str
    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    seq: int = 0


JournalEntry = AclChange | MembershipChange


def subject_of(entry: JournalEntry) -> str:
    return entry.doc_id if isinstance(entry, AclChange) else entry.group


@runtime_checkable
class AccessJournal(Protocol):
    keep: timedelta

    def record(self, entries: Sequence[JournalEntry]) -> None:
        """Append the entries (in order); durable when the call returns. Raises
        ``AccessJournalError`` when they cannot be written."""

    def discard(self, entry_ids: Sequence[str]) -> None:
        """Remove entries whose change the index refused after all."""

    def changes_since(self, since: datetime) -> Iterator[JournalEntry]:
        """Every entry stamped at or after ``since``, in write order."""

    def covers_from(self) -> datetime | None:
        """From when the journal holds every change (its first entry, or the retention
        horizon once older entries were dropped); None while it holds none."""

    def prune(self, before: datetime) -> int:
        """Drop entries stamped before ``before``; returns how many."""

    # -- what the index and directory hold now -----------------------------------------

    def acls_of(self, doc_ids: Sequence[str]) -> dict[str, frozenset[str]]:
        """The effective ACL the index holds for those of ``doc_ids`` it holds."""

    def memberships_of(self, source_id: str) -> dict[str, frozenset[str]]:
        """The direct members of every group synced from ``source_id``."""

    def docs_admitting(self, principals: Iterable[str]) -> Iterator[tuple[str, frozenset[str]]]:
        """``(doc_id, acl)`` of every indexed document whose ACL names any of ``principals``."""


_JOURNALS: weakref.WeakKeyDictionary[object, AccessJournal] = weakref.WeakKeyDictionary()
_KEEP: weakref.WeakKeyDictionary[object, timedelta] = weakref.WeakKeyDictionary()


def configure_access_journal(index: IndexBackend, days: int) -> None:
    """Keep ``days`` of journal for ``index`` (from ``IndexSettings.access_journal_days``)."""
    _KEEP[index] = timedelta(days=days)
    journal = _JOURNALS.get(index)
    if journal is not None:
        journal.keep = _KEEP[index]


def access_journal_for(index: IndexBackend) -> AccessJournal | None:
    """The journal beside ``index`` (created on first use), or None for an index backend that
    has none (a test double): then nothing is journaled and no diff can be answered."""
    cached = _JOURNALS.get(index)
    if cached is not None:
        return cached
    keep = _KEEP.get(index, DEFAULT_KEEP)
    journal: AccessJournal | None = None
    from indexer.backends.embedded.index import EmbeddedIndex

    if isinstance(index, EmbeddedIndex):
        from indexer.access_journal_embedded import EmbeddedAccessJournal

        journal = EmbeddedAccessJournal(index.db, keep=keep)
    elif type(index).__name__ == "OpenSearchIndex":
        # Imported only here: an embedded deployment never loads the OpenSearch client.
        from indexer.access_journal_opensearch import OpenSearchAccessJournal
        from indexer.backends.opensearch.index import OpenSearchIndex

        if isinstance(index, OpenSearchIndex):
            journal = OpenSearchAccessJournal(index.gw, index.names, keep=keep)
    if journal is not None:
        _JOURNALS[index] = journal
    return journal


class PruneClock:
    """Decides when a journal drops its old entries: on the first write, then every
    ``PRUNE_EVERY`` of journal time (the runs' clocks, not the wall clock)."""

    def __init__(self) -> None:
        self._last: datetime | None = None

    def due(self, entries: Sequence[JournalEntry]) -> datetime | None:
        if not entries:
            return None
        newest = max(entry.at for entry in entries)
        if self._last is not None and newest - self._last < PRUNE_EVERY:
            return None
        self._last = newest
        return newest


# -- writers: the hooks of the write pipeline, the runner and group runs ---------------------


def acl_changes(
    journal: AccessJournal,
    changes: Sequence[tuple[str, frozenset[str] | None]],
    *,
    created: Iterable[str] = (),
    at: datetime,
    run_id: str,
    run_type: str,
    source_id: str,
) -> list[AclChange]:
    """Entries for ``(doc_id, new ACL or None for a deletion)`` pairs: the ACL before is read
    from the index in one request (``created`` documents are known to be absent). Pairs whose
    ACL does not change are left out."""
    fresh = set(created)
    held = journal.acls_of([doc_id for doc_id, _ in changes if doc_id not in fresh])
    entries: list[AclChange] = []
    for doc_id, after in changes:
        before = held.get(doc_id)
        if before == after:
            continue
        # Built from values this module produced: validating them again would double the
        # journal's cost on a run that changes every ACL.
        entries.append(
            AclChange.model_construct(
                entry_id=_entry_id(),
                at=at,
                run_id=run_id,
                run_type=run_type,
                source_id=source_id,
                doc_id=doc_id,
                before=before,
                after=after,
            )
        )
    return entries


def record_or_stop(journal: AccessJournal, entries: Sequence[JournalEntry]) -> None:
    """Write ``entries``; any failure becomes ``AccessJournalError`` (a systemic error)."""
    if not entries:
        return
    try:
        journal.record(entries)
    except AccessJournalError:
        raise
    except Exception as exc:  # a journal that cannot be written must stop the run
        raise AccessJournalError(f"the access journal cannot be written: {exc}") from exc


def membership_changes(
    old: dict[str, frozenset[str]],
    new: dict[str, frozenset[str]],
    *,
    at: datetime,
    run_id: str,
    run_type: str = "groups",
    source_id: str,
) -> list[MembershipChange]:
    entries = []
    for group in sorted(old.keys() | new.keys()):
        before, after = old.get(group, frozenset()), new.get(group, frozenset())
        if before != after:
            entries.append(
                MembershipChange(
                    at=at,
                    run_id=run_id,
                    run_type=run_type,
                    source_id=source_id,
                    group=group,
                    added=after - before,
                    removed=before - after,
                )
            )
    return entries


def journaled_replace_groups(
    directory: DirectoryStore,
    journal: AccessJournal | None,
    *,
    clock: Callable[[], datetime],
    run_id: str,
    run_type: str = "groups",
) -> Callable[[str, Iterable[GroupMembership]], None]:
    """``directory.replace_groups`` that journals the membership changes first.

    The new memberships are read from the stream before anything is replaced (a stream that
    fails halfway replaces nothing and journals nothing); the changes are journaled, then the
    directory is replaced. A replacement that fails discards its entries.
    """
    if journal is None:
        return directory.replace_groups

    def replace(source_id: str, memberships: Iterable[GroupMembership]) -> None:
        new: dict[str, set[str]] = {}
        rows: list[GroupMembership] = []
        for membership in memberships:
            rows.append(membership)
            new.setdefault(membership.group, set()).update(membership.members)
        try:
            old = journal.memberships_of(source_id)
        except Exception as exc:
            raise AccessJournalError(f"cannot read the memberships to journal: {exc}") from exc
        entries = membership_changes(
            old,
            {group: frozenset(members) for group, members in new.items()},
            at=clock(),
            run_id=run_id,
            run_type=run_type,
            source_id=source_id,
        )
        record_or_stop(journal, entries)
        try:
            directory.replace_groups(source_id, rows)
        except BaseException:
            if entries:
                journal.discard([entry.entry_id for entry in entries])
            raise

    return replace


class AclJournalWriter:
    """The ACL side of one run's journal: entries written before the index write they
    describe, discarded when the index refuses that write (see the module docstring)."""

    def __init__(
        self,
        journal: AccessJournal,
        retry: RetryPolicy,
        clock: Callable[[], datetime],
        *,
        run_id: str,
        run_type: str,
        source_id: str,
    ) -> None:
        self.journal = journal
        self._retry = retry
        self._clock = clock
        self._run_id = run_id
        self._run_type = run_type
        self._source_id = source_id

    def before_write(
        self,
        changes: Sequence[tuple[str, frozenset[str] | None]],
        *,
        created: Iterable[str] = (),
    ) -> list[AclChange]:
        """Journal ``(doc_id, new ACL or None for a deletion)`` pairs; durable on return."""
        if not changes:
            return []
        entries = self._retry.call(
            acl_changes,
            self.journal,
            changes,
            created=created,
            at=self._clock(),
            run_id=self._run_id,
            run_type=self._run_type,
            source_id=self._source_id,
        )
        self._retry.call(record_or_stop, self.journal, entries)
        return entries

    def refused(self, entries: Sequence[AclChange], doc_ids: Iterable[str]) -> None:
        """The index refused the writes of ``doc_ids``: their entries named no change."""
        refused = set(doc_ids)
        stale = [entry.entry_id for entry in entries if entry.doc_id in refused]
        if stale:
            self._retry.call(self.journal.discard, stale)


def acl_journal_writer(
    index: IndexBackend,
    retry: RetryPolicy,
    clock: Callable[[], datetime],
    *,
    run_id: str,
    run_type: str,
    source_id: str,
) -> AclJournalWriter | None:
    journal = access_journal_for(index)
    if journal is None:
        return None
    return AclJournalWriter(
        journal, retry, clock, run_id=run_id, run_type=run_type, source_id=source_id
    )


def journal_deletions(
    index: IndexBackend,
    doc_ids: Sequence[str],
    *,
    at: datetime,
    run_id: str,
    run_type: str,
    source_id: str,
) -> None:
    """Journal the deletion of ``doc_ids`` before an operation outside a sync run deletes them
    (deleting a source, retention); durable on return, ``AccessJournalError`` if it cannot be."""
    journal = access_journal_for(index)
    if journal is None or not doc_ids:
        return
    entries = acl_changes(
        journal,
        [(doc_id, None) for doc_id in doc_ids],
        at=at,
        run_id=run_id,
        run_type=run_type,
        source_id=source_id,
    )
    record_or_stop(journal, entries)
