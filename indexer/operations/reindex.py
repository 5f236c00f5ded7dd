"""Re-indexing into a new index while the old one serves, with writes going to both.

1. The target (a new file, or new indices under their own aliases) is created, then the marker
   (``reindex_marker``) that names it is set.
2. Every lease of every source is taken and released in turn, waiting for runs that hold one:
   a run that opened its stores before the marker was set has ended before the copy starts.
   Every later write reads the marker and goes to both indices (``indexer.dual_write``).
3. The copy walks the serving index by fingerprints, writes what the target lacks or holds
   differently, and reads the serving fingerprints of each page again after writing it: a page
   that a dual write overtook is copied again, so the copy never leaves an older version behind.
   Killed here, the re-index is resumed (the copy skips what the target already holds) or
   aborted; writers keep writing to both meanwhile.
4. With every lease held (and, on the embedded file, its write lock), a last pass compares the
   fingerprints of every document on both sides (content, ACL, fields, version, ``indexed_at``)
   and the set of documents, copies what differs, deletes what the serving index no longer
   has, and the target takes the serving index's place. It normally finds nothing to do
   (``repaired`` counts what it fixed: a target write that failed, a writer that bypassed
   ``dual_writes``). The marker is cleared with the swap.

Searches read the serving index until the swap. A new embedding model re-embeds each chunk
(``embedder``) from the title, breadcrumbs and stored chunk text; the section headings the
pipeline adds are not stored, so they come back when the document is next rewritten. Chunking
is unchanged. The content fingerprints are carried over, so a run with a new model name still
sees its documents as changed and rewrites them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice

from pydantic import BaseModel

from indexer.backend import IndexBackend
from indexer.backends import Stores
from indexer.dual_write import (
    forget_target_embedder,
    reembed,
    register_target_embedder,
    target_embedder,
)
from indexer.embedding import Embedder
from indexer.operations.leases import HeldLeases, hold_leases, lease_keys
from indexer.operations.reads import DocumentReader
from indexer.operations.reindex_marker import ReindexMarker, marker_store_for
from indexer.records import DocFingerprint, DocumentWrite
from indexer.state_store import LeaseHeldError, StateStore

PAGE = 100  # documents exported and written at a time
COMPARE_PAGE = 500  # fingerprints compared at a time (no text or vectors read)
# Times a page is copied again because dual writes kept overtaking it; the last pass takes the rest.
RECHECKS = 3
# How long a re-index waits for the runs that hold leases (at the start, and for the swap).
DEFAULT_WAIT = timedelta(minutes=10)
POLL_S = 0.2

_Key = tuple[str, str, str, str | None, str]


class ReindexError(Exception):
    """The re-index could not go on; the serving index still serves, unchanged."""


class ReindexInProgressError(ReindexError):
    def __init__(self, marker: ReindexMarker) -> None:
        super().__init__(
            f"a re-index into {marker.target} is in progress (started {marker.started_at:%c}"
            f" by {marker.by}, {marker.phase}): resume it with `permindex reindex --resume`"
            " or abort it with `permindex reindex --abort`"
        )
        self.marker = marker


class ReindexReport(BaseModel):
    old: str
    new: str
    documents: int
    passes: int
    recopied: int  # documents copied again because a write overtook their copy
    removed: int  # documents deleted from the new index because they left the old one
    failed: list[str]
    skipped: int = 0  # already in the target as they are in the serving index (a resume)
    verified: int = 0  # documents the last pass compared on both sides
    repaired: int = 0  # documents the last pass found different and copied or deleted
    waited_s: float = 0.0  # waiting for runs that held leases

    def copied_note(self) -> str:
        """What the copy and the last pass did, for the operator."""
        return (
            f"{self.skipped} already there, {self.recopied} copied again after a write"
            f" overtook them, {self.removed} removed; the last pass compared {self.verified}"
            f" and repaired {self.repaired}; waited {self.waited_s:.1f} s for runs"
        )


def utc_now() -> datetime:
    return datetime.now(UTC)


def _key(fp: DocFingerprint | DocumentWrite | None) -> _Key | None:
    if fp is None:
        return None
    indexed = fp.indexed_at.isoformat() if fp.indexed_at else ""
    return (fp.content_fingerprint, fp.acl_fingerprint, fp.fields_fingerprint, fp.version, indexed)


def _pages(items: Iterable[DocFingerprint], size: int) -> Iterator[list[DocFingerprint]]:
    iterator = iter(items)
    while page := list(islice(iterator, size)):
        yield page


@dataclass
class Copier:
    """Makes ``new`` hold what ``old`` holds, page by page, by fingerprints."""

    old: IndexBackend
    new: IndexBackend
    reader: DocumentReader
    embedder: Embedder | None = None
    on_page: Callable[[int], None] | None = None
    copied: int = 0
    skipped: int = 0
    recopied: int = 0
    removed: int = 0
    verified: int = 0
    repaired: int = 0
    passes: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    def copy(self) -> None:
        """The copy, while writers write to both indices."""
        self._pass(last=False)

    def verify(self, tick: Callable[[], None] | None = None) -> None:
        """The last pass, with writers held off: afterwards ``new`` holds what ``old`` holds."""
        self._pass(last=True, tick=tick)

    def _pass(self, *, last: bool, tick: Callable[[], None] | None = None) -> None:
        self.passes += 1
        self.old.refresh()
        self.new.refresh()
        for source_id in sorted(self.old.stats().sources):
            for page in _pages(self.old.iter_fingerprints(source_id), COMPARE_PAGE):
                held = self.new.fingerprints_of([fp.doc_id for fp in page])
                stale = [fp.doc_id for fp in page if _key(held.get(fp.doc_id)) != _key(fp)]
                if last:
                    self.verified += len(page)
                    self.repaired += len(stale)
                else:
                    self.skipped += len(page) - len(stale)
                for start in range(0, len(stale), PAGE):
                    self._copy(stale[start : start + PAGE])
                    self._progress(tick)
                if not stale:
                    self._progress(tick)
        # Documents the target holds and the serving index no longer does.
        self.new.refresh()
        extra: list[str] = []
        for source_id in sorted(self.new.stats().sources):
            for page in _pages(self.new.iter_fingerprints(source_id), COMPARE_PAGE):
                present = self.old.fingerprints_of([fp.doc_id for fp in page])
                extra.extend(fp.doc_id for fp in page if fp.doc_id not in present)
        for start in range(0, len(extra), PAGE):
            self._copy(extra[start : start + PAGE])
        if last:
            self.repaired += len(extra)
        self.new.refresh()

    def _progress(self, tick: Callable[[], None] | None) -> None:
        if self.on_page is not None:
            self.on_page(self.copied + self.skipped)
        if tick is not None:
            tick()

    def _copy(self, doc_ids: Sequence[str]) -> None:
        pending = list(doc_ids)
        for attempt in range(RECHECKS + 1):
            writes = self.reader.export(pending)
            exported = {w.doc_id: _key(w) for w in writes}
            vanished = [d for d in pending if d not in exported]
            if vanished:
                self.new.delete_documents(vanished)
                self.removed += len(vanished)
                for doc_id in vanished:
                    self.failed.pop(doc_id, None)
            if self.embedder is not None:
                writes = reembed(writes, self.embedder)
            result = self.new.write_documents(writes) if writes else None
            written = result.written if result is not None else []
            if attempt == 0:
                self.copied += len(written)
            for doc_id in written:
                self.failed.pop(doc_id, None)
            for failure in result.failed if result is not None else []:
                self.failed[failure.doc_id] = failure.reason
            # A dual write that reached the serving index after the export may have mirrored
            # to the target before this write: the serving index's fingerprints tell.
            now = self.old.fingerprints_of([*written, *vanished])
            pending = [d for d in written if _key(now.get(d)) != exported[d]]
            pending += [d for d in vanished if d in now]
            if not pending:
                return
            self.recopied += len(pending)

    def report(self, old: str, new: str, waited_s: float = 0.0) -> ReindexReport:
        return ReindexReport(
            old=old,
            new=new,
            documents=self.new.stats().documents,
            passes=self.passes,
            recopied=self.recopied,
            removed=self.removed,
            failed=sorted(self.failed)[:100],
            skipped=self.skipped,
            verified=self.verified,
            repaired=self.repaired,
            waited_s=round(waited_s, 3),
        )


# -- holding writers off --------------------------------------------------------------------


def writer_keys(stores: Stores) -> list[str]:
    """Every lease a writer may hold: each source's and each scope's that has run."""
    sources = set(stores.index.stats().sources)
    sources |= {run.source_id for run in stores.state.recent_runs(None, 500)}
    return lease_keys(stores.state, sorted(sources))


def wait_for_runs(
    state: StateStore,
    keys: Sequence[str],
    *,
    owner: str,
    ttl: timedelta,
    clock: Callable[[], datetime],
    wait: timedelta,
) -> float:
    """Take and release each lease in turn, waiting while a run holds it; the seconds waited.

    Called after the marker is set: every run that held a lease then has ended when this
    returns, and every later run writes to both indices.
    """
    started = time.monotonic()
    for key in keys:
        while True:
            try:
                lease = state.acquire_lease(key, owner, ttl, clock())
            except LeaseHeldError as exc:
                if time.monotonic() - started >= wait.total_seconds():
                    raise ReindexError(
                        f"a run of {key!r} still holds its lease after {wait}: try again later"
                    ) from exc
                time.sleep(POLL_S)
                continue
            state.release_lease(lease)
            break
    return time.monotonic() - started


@contextmanager
def hold_all(
    state: StateStore,
    keys: Sequence[str],
    *,
    owner: str,
    ttl: timedelta,
    clock: Callable[[], datetime],
    wait: timedelta,
) -> Iterator[HeldLeases]:
    """Every lease at once, waiting up to ``wait`` for the runs that hold some."""
    started = time.monotonic()
    while True:
        stack = ExitStack()
        try:
            held = stack.enter_context(hold_leases(state, keys, owner, ttl, clock()))
            break
        except LeaseHeldError as exc:
            if time.monotonic() - started >= wait.total_seconds():
                raise ReindexError(
                    f"runs kept their leases for {wait} ({exc}): the re-index can be resumed"
                    " with `permindex reindex --resume`"
                ) from exc
            time.sleep(POLL_S)
    with stack:
        yield held


def new_owner() -> str:
    return f"reindex:{uuid.uuid4().hex[:8]}"


def resumed(
    marker: ReindexMarker | None, embedder: Embedder | None
) -> tuple[ReindexMarker, Embedder | None]:
    """The re-index in progress and its target's model, to carry it on: ``embedder`` when the
    caller gives one (registered for this process's writers), else the model the marker names."""
    if marker is None:
        raise ReindexError("no re-index is in progress")
    if embedder is not None:
        register_target_embedder(marker.reindex_id, embedder)
        return marker, embedder
    return marker, target_embedder(marker)


# -- operator entry points beside the backend-specific re-index -----------------------------


def reindex_status(stores: Stores) -> ReindexMarker | None:
    """The re-index in progress, if any."""
    return marker_store_for(stores.state).get()


def abort_reindex(
    stores: Stores,
    *,
    clock: Callable[[], datetime] = utc_now,
    lease_ttl: timedelta = timedelta(minutes=5),
    wait: timedelta = DEFAULT_WAIT,
) -> ReindexMarker | None:
    """Stop writing to the target and drop it, with every writer held off; the marker it
    cleared (None when no re-index was in progress). The serving index is not touched, except
    that an OpenSearch re-index killed after its alias swap is finished instead."""
    markers = marker_store_for(stores.state)
    marker = markers.get()
    if marker is None:
        return None
    owner = new_owner()
    with hold_all(
        stores.state, writer_keys(stores), owner=owner, ttl=lease_ttl, clock=clock, wait=wait
    ):
        if marker.backend == "embedded":
            from indexer.operations.reindex_embedded import abort_embedded

            abort_embedded(stores, marker)
        else:
            from indexer.operations.reindex_opensearch import abort_opensearch

            abort_opensearch(stores, marker)
    forget_target_embedder(marker.reindex_id)
    return marker
