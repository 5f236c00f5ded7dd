"""The Celery application: Redis broker, late acknowledgement, one task in hand per process.

Acknowledgement comes after the run ends (``acks_late``), so a worker killed mid-run leaves its
task unacknowledged: a prefork child killed by the OOM killer is rejected back to the queue at
once (``reject_on_worker_lost``), a whole worker that died is redelivered by the broker after
``visibility_timeout``. Either copy resumes from the scope's checkpoint, and the scope's lease
keeps two copies from ever running at the same time. Outcomes are run records in the state
store; the only task with a result is the optional embedding task, whose replies go through the
broker's Redis (``result_backend``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from celery import Celery

from schedules.settings import QueueSettings

TASK_NAME = "permindex.run_scope"
# Only with ``queue.embedding_queue`` (schedules/embedding_queue.py).
EMBED_TASK_NAME = "permindex.embed"

app = Celery("permindex", set_as_current=False)


class QueueNotConfiguredError(Exception):
    """``queue.broker_url`` is unset: workers and the distributed scheduler need a broker."""


def broker_url(settings: QueueSettings) -> str:
    if not settings.broker_url:
        raise QueueNotConfiguredError(
            "queue.broker_url is not set (e.g. redis://127.0.0.1:6379/0); "
            "`permindex schedule` runs everything in-process without one"
        )
    if settings.broker_password_file is None:
        return settings.broker_url
    password = Path(settings.broker_password_file).read_text(encoding="utf-8").strip()
    parts = urlsplit(settings.broker_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def configure(settings: QueueSettings, target: Celery = app) -> Celery:
    target.conf.update(
        broker_url=broker_url(settings),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a restarted Redis is waited for, not given up on
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout.total_seconds(),
            "unacked_restore_interval": settings.restore_interval.total_seconds(),
            # Sweep on every interval: the default scans only every tenth one.
            "unacked_restore_throttle": 1,
        },
        task_default_queue=settings.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A run that lost the broker keeps going; its ack is lost and the broker redelivers the
        # task, which finds its request answered and drops it.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
        timezone="UTC",
    )
    if settings.embedding_queue:
        target.conf.update(
            result_backend=broker_url(settings),
            result_expires=int(settings.embedding_timeout.total_seconds()) * 2,
            result_serializer="json",
        )
    return target
