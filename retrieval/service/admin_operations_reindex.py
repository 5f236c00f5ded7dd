"""Re-indexing started from the service: one background operation at a time, polled by its id.

The copy runs the CLI's own code (``reindex_embedded`` / ``reindex_opensearch``) on the
service's stores, in a thread of its own so it holds none of the request workers. It takes
the state store's ``@reindex`` lease for its whole length (renewed after every page copied),
so a second start is refused, from this process or another service process on the same
index. A service stopped mid-copy leaves what a killed ``permindex reindex`` leaves: the old
index still serving, unchanged. Operations live in memory: a restarted service forgets them.
The API re-indexes into the configured analyzer and mapping with the vectors as they are;
re-embedding with a new model stays a CLI job (``permindex reindex --reembed``), since the
service has opened the index at its model's dimension.
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from indexer.backend import IndexBackend
from indexer.backends import Stores
from indexer.operations.reindex import ReindexReport
from indexer.operations.reindex_marker import marker_store_for
from indexer.state_store import Lease, LeaseHeldError

log = logging.getLogger("permindex.operations")

# Not a source id (those never hold "@"), so no sync run ever asks for this lease.
LEASE_KEY = "@reindex"
LEASE_TTL = timedelta(minutes=30)
KEPT = 20  # finished operations remembered for polling

Status = Literal["running", "succeeded", "failed"]


class ReindexOperation(BaseModel):
    operation_id: str
    status: Status
    started_by: str
    started_at: datetime
    ended_at: datetime | None = None
    copied: int = 0  # documents copied so far (the last pass's running count)
    report: ReindexReport | None = None
    error: str | None = None


class ReindexBusyError(Exception):
    """A re-index of this index is already running."""


class ReindexJobs:
    """The re-index operations of one index. ``finished`` is called once per operation, from
    the operation's thread, when it ends (the audit record of its outcome)."""

    def __init__(self, stores: Stores, clock: Callable[[], datetime]) -> None:
        self.stores = stores
        self.clock = clock
        self._lock = threading.Lock()
        self._ops: OrderedDict[str, ReindexOperation] = OrderedDict()
        self._threads: dict[str, threading.Thread] = {}

    def get(self, operation_id: str) -> ReindexOperation | None:
        with self._lock:
            op = self._ops.get(operation_id)
            return None if op is None else op.model_copy()

    def latest(self) -> ReindexOperation | None:
        with self._lock:
            if not self._ops:
                return None
            return next(reversed(self._ops.values())).model_copy()

    def start(
        self, by: str, finished: Callable[[ReindexOperation], None] | None = None
    ) -> ReindexOperation:
        """Starts the copy in the background; ``ReindexBusyError`` while one runs."""
        with self._lock:
            if any(op.status == "running" for op in self._ops.values()):
                raise ReindexBusyError("a re-index started from this service is running")
            pending = marker_store_for(self.stores.state).get()
            if pending is not None:
                # An interrupted re-index (a killed CLI or service) still has writers writing
                # to its target: only its own --resume or --abort may end it.
                raise ReindexBusyError(
                    f"re-index {pending.reindex_id} by {pending.by} since "
                    f"{pending.started_at.isoformat()} is unfinished: run `permindex reindex "
                    "--resume` or `--abort`"
                )
            op_id = uuid.uuid4().hex
            try:
                lease = self.stores.state.acquire_lease(
                    LEASE_KEY, f"reindex:{op_id}", LEASE_TTL, self.clock()
                )
            except LeaseHeldError as exc:
                raise ReindexBusyError(f"another re-index holds the index ({exc})") from None
            op = ReindexOperation(
                operation_id=op_id, status="running", started_by=by, started_at=self.clock()
            )
            self._ops[op_id] = op
            while len(self._ops) > KEPT:
                self._ops.popitem(last=False)
            thread = threading.Thread(
                target=self._run, args=(op_id, lease, finished), name=f"reindex-{op_id[:8]}"
            )
            # Daemon: a stopping service ends the copy as a kill ends the CLI's (the old index
            # serves on, unchanged), instead of hanging its shutdown for the whole copy.
            thread.daemon = True
            self._threads[op_id] = thread
        thread.start()
        return op.model_copy()

    def wait(self, operation_id: str, timeout_s: float) -> ReindexOperation | None:
        """Blocks until the operation ends or ``timeout_s`` passes (tests, shutdown)."""
        thread = self._threads.get(operation_id)
        if thread is not None:
            thread.join(timeout_s)
        return self.get(operation_id)

    def _run(
        self,
        op_id: str,
        lease: Lease,
        finished: Callable[[ReindexOperation], None] | None,
    ) -> None:
        held = [lease]

        def progress(copied: int) -> None:
            with self._lock:
                self._ops[op_id].copied = copied
            try:
                held[0] = self.stores.state.renew_lease(held[0], LEASE_TTL, self.clock())
            except Exception:  # the embedded swap replaces the lease table
                log.debug("reindex lease not renewed", exc_info=True)

        report: ReindexReport | None = None
        error: str | None = None
        try:
            report = run_reindex(self.stores, self.clock, progress)
        except Exception as exc:  # reported to whoever polls, and logged
            log.exception("re-index %s failed", op_id)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            try:
                self.stores.state.release_lease(held[0])
            except Exception:  # an unreleased lease expires on its own
                log.debug("reindex lease not released", exc_info=True)
        with self._lock:
            op = self._ops.get(op_id)
            if op is None:
                return
            op.ended_at = self.clock()
            op.report = report
            op.error = error
            if report is not None and report.failed:
                op.error = f"{len(report.failed)} documents failed to copy"
            op.status = "failed" if op.error else "succeeded"
            done = op.model_copy()
            self._threads.pop(op_id, None)
        if finished is not None:
            finished(done)


def run_reindex(
    stores: Stores, clock: Callable[[], datetime], on_page: Callable[[int], None]
) -> ReindexReport:
    """The CLI's re-index of ``stores``'s backend, with its configured settings."""
    from indexer.backends.embedded.index import EmbeddedIndex

    if isinstance(stores.index, EmbeddedIndex):
        from indexer.operations.reindex_embedded import reindex_embedded

        return reindex_embedded(stores, on_page=on_page)
    from indexer.operations.reindex_opensearch import reindex_opensearch

    return reindex_opensearch(stores, clock=clock, on_page=on_page)


_JOBS: weakref.WeakKeyDictionary[IndexBackend, ReindexJobs] = weakref.WeakKeyDictionary()
_JOBS_LOCK = threading.Lock()


def jobs_for(stores: Stores) -> ReindexJobs:
    """The one tracker of ``stores``'s index, shared by the admin API and the console."""
    with _JOBS_LOCK:
        jobs = _JOBS.get(stores.index)
        if jobs is None:
            jobs = _JOBS[stores.index] = ReindexJobs(stores, lambda: datetime.now(UTC))
        return jobs
