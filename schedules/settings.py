"""Settings of sync runs and of their schedules, whatever the source."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(value: Any) -> Any:
    """Accept ``30s``, ``15m``, ``6h``, ``1d`` besides what pydantic takes (seconds, ISO 8601)."""
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return value


Interval = Annotated[timedelta, BeforeValidator(_parse_duration)]


class SourceSchedule(BaseModel):
    """How often each run type of one source runs under ``permindex schedule``; None = never."""

    model_config = ConfigDict(extra="forbid")

    # A revocation (sidecar, restriction, sharing, group membership) must reach search within
    # minutes: incremental and groups runs are cheap per unchanged document, so they run often.
    incremental: Interval | None = timedelta(minutes=5)
    full: Interval | None = timedelta(days=1)
    permissions: Interval | None = timedelta(minutes=15)
    groups: Interval | None = timedelta(minutes=15)
    # Ids-only pruning between full runs; off by default (full runs prune too).
    prune: Interval | None = None

    @model_validator(mode="after")
    def _positive(self) -> SourceSchedule:
        for name in ("incremental", "full", "permissions", "groups", "prune"):
            value: timedelta | None = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise ValueError(f"{name} interval must be positive, got {value}")
        return self


class SyncSettings(BaseModel):
    """How sync runs behave, whatever the source."""

    model_config = ConfigDict(extra="forbid")

    # How long a crashed run blocks its source before another run may take over.
    lease_ttl: Interval = timedelta(minutes=5)
    write_batch_docs: int = Field(default=32, ge=1)
    embed_batch_chunks: int = Field(default=256, ge=1)


class ScheduleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: SourceSchedule = Field(default_factory=SourceSchedule)
    # Per source id; run types missing here fall back to ``default``.
    sources: dict[str, SourceSchedule] = Field(default_factory=dict)

    def for_source(self, source_id: str) -> SourceSchedule:
        override = self.sources.get(source_id)
        if override is None:
            return self.default
        merged = self.default.model_dump()
        merged.update(override.model_dump(exclude_unset=True))
        return SourceSchedule.model_validate(merged)


class QueueSettings(BaseModel):
    """``queue:`` section: the Celery broker that spreads scope runs over worker processes.

    Unset ``broker_url`` means laptop mode: ``permindex schedule`` runs everything in-process and
    nothing needs Redis. ``permindex worker`` and ``permindex scheduler`` require it.
    """

    model_config = ConfigDict(extra="forbid")

    broker_url: str | None = None  # redis://host:6379/0
    # A file holding the Redis password (a mounted secret), inserted into ``broker_url``.
    broker_password_file: str | None = None
    queue: str = "permindex.sync"
    # A task not acknowledged within this time is handed to another worker. Runs longer than it
    # are delivered twice; the scope lease makes the copy wait, so it never runs concurrently.
    visibility_timeout: Interval = timedelta(minutes=30)
    # How often unacknowledged tasks of dead workers are looked for (kombu's restore sweep).
    restore_interval: Interval = timedelta(seconds=10)
    # A task whose scope is leased by another run is retried after this long.
    lease_retry: Interval = timedelta(seconds=30)
    # The scheduler leader's lease: a standby takes over within one TTL of the leader's death.
    leader_lease_ttl: Interval = timedelta(seconds=30)
    # Set: sync workers send chunk texts to this queue, answered by `permindex worker
    # --embedding` processes (where the GPU is). Unset: every worker embeds on its own CPU.
    embedding_queue: str | None = None
    # How long a sync worker waits for an embedding reply before the run stops (checkpoint kept).
    embedding_timeout: Interval = timedelta(minutes=5)

    @model_validator(mode="after")
    def _positive(self) -> QueueSettings:
        for name in (
            "visibility_timeout",
            "restore_interval",
            "lease_retry",
            "leader_lease_ttl",
            "embedding_timeout",
        ):
            value: timedelta = getattr(self, name)
            if value <= timedelta(0):
                raise ValueError(f"queue.{name} must be positive, got {value}")
        return self
