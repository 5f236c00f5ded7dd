"""APScheduler jobs: every configured source, each run type at its own interval.

Under ``permindex schedule`` jobs run in-process, one at a time on a single worker thread: the
stores are shared, the machine is small, and the per-scope lease already serialises runs across
processes; a run that would overlap another of the same scope is skipped (APScheduler
``max_instances=1``, missed fires coalesced). Under ``permindex scheduler`` a ``dispatch``
callable enqueues each scope's request for the workers instead; the run code is the same
(``schedules.work``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from connectors.contract import Capabilities
from indexer.run_types import RunType
from indexer.state_store import LeaseHeldError, RunRecord
from schedules.commands import Runtime
from schedules.work import WorkItem, execute, plan

log = logging.getLogger("permindex.schedules")


def supported(capabilities: Capabilities, run_type: RunType) -> bool:
    if run_type is RunType.incremental:
        return capabilities.incremental
    if run_type in (RunType.full, RunType.prune):
        return capabilities.listing
    if run_type is RunType.permissions:
        return capabilities.permissions_refresh
    return capabilities.groups or capabilities.identities


class SyncScheduler:
    """Schedules sync runs for every source of ``runtime``; start, then shutdown."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        owner: str | None = None,
        dispatch: Callable[[WorkItem], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.owner = owner
        self.dispatch = dispatch
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )
        self.finished: list[RunRecord] = []
        self._stopped = threading.Event()
        self.jobs: list[tuple[str, RunType, timedelta]] = []
        self._add_jobs()

    def _add_jobs(self) -> None:
        for source_id in self.runtime.source_ids:
            connector = self.runtime.connector_for(source_id)
            schedule = self.runtime.schedules.for_source(source_id)
            for run_type in RunType:
                interval: timedelta | None = getattr(schedule, run_type.value)
                if interval is None or not supported(connector.capabilities, run_type):
                    continue
                self.jobs.append((source_id, run_type, interval))
                # Incremental runs start at once so a fresh scheduler catches up immediately;
                # the others first fire one interval from now. (None would pause the job.)
                first = (
                    {"next_run_time": self.runtime.clock()}
                    if run_type is RunType.incremental
                    else {}
                )
                self.scheduler.add_job(
                    self.run_once,
                    IntervalTrigger(seconds=interval.total_seconds(), timezone="UTC"),
                    args=(source_id, run_type),
                    id=f"{source_id}:{run_type.value}",
                    name=f"{run_type.value} sync of {source_id}",
                    **first,
                )

    def run_once(self, source_id: str, run_type: RunType) -> RunRecord | None:
        """Run (or, with ``dispatch``, enqueue) every scope of one source; the last record."""
        try:
            items = plan(self.runtime, source_id, run_type)
        except Exception:
            log.exception(
                "scheduled run not planned", extra={"source": source_id, "run_type": run_type.value}
            )
            return None
        if self.dispatch is not None:
            for item in items:
                try:
                    self.dispatch(item)
                except Exception:
                    log.exception("request not enqueued", extra=self._fields(item))
            return None
        last: RunRecord | None = None
        for item in items:
            record = self._run_here(item)
            if record is not None:
                last = record
        return last

    def _run_here(self, item: WorkItem) -> RunRecord | None:
        try:
            record = execute(self.runtime, item, owner=self.owner)
        except LeaseHeldError as exc:
            log.info(
                "skipped: another run holds the lease",
                extra={**self._fields(item), "detail": str(exc)},
            )
            return None
        except Exception:
            # One broken source must not stop the others' schedules.
            log.exception("scheduled run crashed", extra=self._fields(item))
            return None
        if record is None:
            return None
        self.finished.append(record)
        log.info(
            "scheduled run finished",
            extra={**self._fields(item), "status": record.status, "run_id": record.run_id},
        )
        return record

    @staticmethod
    def _fields(item: WorkItem) -> dict[str, str]:
        return {"source": item.source_id, "scope": item.scope, "run_type": item.run_type.value}

    def next_runs(self) -> dict[tuple[str, str], datetime]:
        """(source, run type) -> next fire time, for the jobs that are not paused."""
        found: dict[tuple[str, str], datetime] = {}
        for job in self.scheduler.get_jobs():
            if job.next_run_time is not None:
                source_id, run_type = job.id.rsplit(":", 1)
                found[(source_id, run_type)] = job.next_run_time
        return found

    def pause(self) -> None:
        if self.scheduler.running:
            self.scheduler.pause()

    def resume(self) -> None:
        if self.scheduler.running:
            self.scheduler.resume()

    def start(self, *, paused: bool = False) -> None:
        self.scheduler.start(paused=paused)

    def shutdown(self, wait: bool = True) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        self._stopped.set()

    def run_forever(self) -> None:
        """Block until interrupted (Ctrl-C or SIGTERM), then let the running job finish."""
        self.start()
        try:
            while not self._stopped.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown(wait=True)
