"""The Celery task: one scope's run, the same code ``permindex schedule`` runs in-process.

A worker process builds its runtime (stores, connectors, embedder) on its first task, after any
fork, from the factory the composition root installed with ``configure_worker``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import Reject

from indexer.run_types import RunType, UnsupportedRunError
from indexer.state_store import LeaseHeldError
from schedules import metrics
from schedules.celery_app import TASK_NAME, app
from schedules.commands import Runtime, default_owner
from schedules.queue_state import QueueState
from schedules.settings import QueueSettings
from schedules.work import WorkItem, execute

log = logging.getLogger("permindex.schedules.worker")


@dataclass
class WorkerContext:
    runtime_factory: Callable[[], Runtime]
    settings: QueueSettings
    queue_state: Callable[[], QueueState]
    stop: threading.Event = field(default_factory=threading.Event)
    _runtime: Runtime | None = None
    _queue: QueueState | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = self.runtime_factory()
        return self._runtime

    @property
    def queue(self) -> QueueState:
        if self._queue is None:
            self._queue = self.queue_state()
        return self._queue


_context: WorkerContext | None = None


def configure_worker(context: WorkerContext) -> None:
    global _context
    _context = context


def _require_context() -> WorkerContext:
    if _context is None:
        raise RuntimeError("permindex task run outside `permindex worker` (configure_worker)")
    return _context


def run_item(context: WorkerContext, item: WorkItem) -> str:
    """Run one request; what the task returns, or raises ``LeaseHeldError`` / ``Reject``."""
    try:
        context.queue.clear_pending(item)
    except Exception:
        # The marker only throttles the scheduler; it expires on its own.
        log.warning("could not clear the pending marker", extra={"request": item.request_id})
    fields: dict[str, Any] = {
        "source": item.source_id,
        "scope": item.scope,
        "run_type": item.run_type.value,
        "request": item.request_id,
    }
    log.info("request taken", extra=fields)
    try:
        record = execute(context.runtime, item, owner=default_owner(), stop=context.stop)
    except UnsupportedRunError as exc:
        log.error("request dropped: run type not supported", extra={**fields, "error": str(exc)})
        return "unsupported"
    if record is None:
        log.info("request already answered: redelivered copy dropped", extra=fields)
        metrics.DUPLICATES_DROPPED.labels(item.source_id).inc()
        return "answered"
    if record.status in ("stopped", "interrupted"):
        # Not answered: back to the queue, to resume from the checkpoint it left.
        log.info("run stopped before its end: request requeued", extra=fields)
        raise Reject(f"{item.label} {record.status}", requeue=True)
    log.info("request answered", extra={**fields, "status": record.status, "run": record.run_id})
    return record.status


@app.task(
    bind=True,
    name=TASK_NAME,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def run_scope(self: Any, source_id: str, scope: str, run_type: str, request_id: str) -> str:
    context = _require_context()
    item = WorkItem(
        source_id=source_id, scope=scope, run_type=RunType(run_type), request_id=request_id
    )
    try:
        return run_item(context, item)
    except LeaseHeldError as exc:
        # Another run holds the scope (a copy of this request redelivered while the first still
        # runs, or an operator's `permindex sync`): wait, then look again. The retry keeps the
        # request id, so it is dropped once the holder has answered it.
        countdown = context.settings.lease_retry.total_seconds()
        log.info(
            "scope leased by another run: retrying later",
            extra={"source": source_id, "scope": scope, "request": request_id, "in_s": countdown},
        )
        raise self.retry(countdown=countdown, exc=exc) from exc
