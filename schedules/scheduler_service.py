"""``permindex scheduler``: the APScheduler clock, enqueueing scope requests while it leads.

Every scheduler process builds the same jobs, paused. The one holding the leader lease resumes
them; each fire enqueues one request per scope (unless one is already waiting for that scope
and run type). A standby keeps trying the lease and takes over within one TTL of the leader's
last renewal; the jobs it resumes fire at once where they are due (missed fires coalesce).
"""

from __future__ import annotations

import logging
import threading

from celery import Celery

from schedules import metrics
from schedules.celery_app import TASK_NAME
from schedules.commands import Runtime, default_owner
from schedules.jobs import SyncScheduler
from schedules.leader import LeaderElection
from schedules.queue_state import QueueState
from schedules.settings import QueueSettings
from schedules.work import WorkItem

log = logging.getLogger("permindex.schedules.scheduler")


class Enqueuer:
    """Sends a scope's request to the workers, one waiting request per scope and run type."""

    def __init__(self, celery: Celery, queue: QueueState, settings: QueueSettings) -> None:
        self.celery = celery
        self.queue = queue
        self.settings = settings

    def enqueue(self, item: WorkItem) -> bool:
        # The marker outlives a request redelivered once; a lost one only allows a second
        # request, which the scope lease serialises and which then finds nothing to do.
        if not self.queue.mark_pending(item, self.settings.visibility_timeout * 2):
            log.info("already queued: not enqueued again", extra=_fields(item))
            return False
        self.celery.send_task(
            TASK_NAME,
            kwargs={
                "source_id": item.source_id,
                "scope": item.scope,
                "run_type": item.run_type.value,
                "request_id": item.request_id,
            },
            task_id=item.request_id,
            queue=self.settings.queue,
        )
        metrics.ENQUEUED.labels(item.source_id, item.run_type.value).inc()
        log.info("enqueued", extra={**_fields(item), "request": item.request_id})
        return True


def _fields(item: WorkItem) -> dict[str, str]:
    return {"source": item.source_id, "scope": item.scope, "run_type": item.run_type.value}


class QueueScheduler:
    def __init__(
        self,
        runtime: Runtime,
        enqueuer: Enqueuer,
        *,
        owner: str | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.runtime = runtime
        self.enqueuer = enqueuer
        self.owner = owner or default_owner()
        self.stop = stop or threading.Event()
        settings = enqueuer.settings
        self.election = LeaderElection(
            runtime.stores.state, self.owner, settings.leader_lease_ttl, runtime.clock
        )
        self.jobs = SyncScheduler(runtime, owner=self.owner, dispatch=self._dispatch)
        self.leading = False

    def _dispatch(self, item: WorkItem) -> None:
        # A leader that could not renew in time must not enqueue next to its successor.
        if not self.election.is_leader():
            log.info("not enqueued: no longer the leader", extra=_fields(item))
            return
        self.enqueuer.enqueue(item)

    def tick(self) -> None:
        leader = self.election.tick()
        if leader and not self.leading:
            self.jobs.resume()
            log.info("scheduling as leader", extra={"owner": self.owner})
        elif not leader and self.leading:
            self.jobs.pause()
            log.info("standing by", extra={"owner": self.owner})
        self.leading = leader
        metrics.LEADER.set(1 if leader else 0)
        self._publish(leader)

    def _publish(self, leader: bool) -> None:
        queue = self.enqueuer.queue
        name = self.enqueuer.settings.queue
        try:
            metrics.QUEUE_DEPTH.labels(name).set(queue.depth())
            metrics.QUEUE_UNACKED.labels(name).set(queue.unacked())
            if leader:
                ttl = self.election.ttl * 3
                queue.publish_next_runs(self.jobs.next_runs(), ttl)
        except Exception as exc:
            # The broker is down: workers wait for it too; the next tick tries again.
            log.warning("broker unreachable", extra={"error": str(exc)})

    def run_forever(self) -> None:
        """Lead or stand by until ``stop`` is set (SIGTERM), then hand the lease back."""
        self.jobs.start(paused=True)
        if not self.leading:
            log.info("standing by", extra={"owner": self.owner})
        try:
            while True:
                self.tick()
                if self.stop.wait(self.election.poll_seconds):
                    break
        finally:
            self.jobs.shutdown(wait=False)
            self.election.resign()
            metrics.LEADER.set(0)
