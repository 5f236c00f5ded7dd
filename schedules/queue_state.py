"""What the broker's Redis tells an operator: queue depth, requests pending per scope, next runs.

Pending markers (one key per source, scope and run type) keep the scheduler from piling up
requests for a scope whose last request has not started yet; a worker removes the marker when it
takes the request. The leader publishes its next fire times; both expire on their own, so a
dead scheduler or a flushed Redis leaves nothing stale behind.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote, unquote

import redis

from indexer.run_types import RunType
from schedules.work import WorkItem

PENDING_PREFIX = "permindex:pending:"
NEXT_RUNS_KEY = "permindex:next-runs"
# kombu's Redis transport: the hash of delivered, unacknowledged messages.
UNACKED_KEY = "unacked"


def pending_key(source_id: str, scope: str, run_type: RunType) -> str:
    return f"{PENDING_PREFIX}{quote(source_id, safe='')}:{quote(scope, safe='')}:{run_type.value}"


class QueueState:
    def __init__(self, client: redis.Redis, queue: str) -> None:
        self.client = client
        self.queue = queue

    @classmethod
    def from_url(cls, url: str, queue: str) -> QueueState:
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5), queue)

    # -- pending requests -------------------------------------------------------------------

    def mark_pending(self, item: WorkItem, ttl: timedelta) -> bool:
        """True when no request of the same scope and run type was waiting (now this one is)."""
        key = pending_key(item.source_id, item.scope, item.run_type)
        seconds = max(1, int(ttl.total_seconds()))
        return bool(self.client.set(key, item.request_id, nx=True, ex=seconds))

    def clear_pending(self, item: WorkItem) -> None:
        key = pending_key(item.source_id, item.scope, item.run_type)
        # Only our own marker: a newer request of the same scope keeps its own.
        if self.client.get(key) == item.request_id.encode():
            self.client.delete(key)

    def pending(self, source_id: str) -> dict[str, list[str]]:
        """Scope -> run types with a request waiting in the queue."""
        found: dict[str, list[str]] = {}
        pattern = f"{PENDING_PREFIX}{quote(source_id, safe='')}:*"
        for raw in self.client.scan_iter(match=pattern, count=500):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            scope, run_type = key[len(PENDING_PREFIX) :].split(":")[1:3]
            found.setdefault(unquote(scope), []).append(run_type)
        return {scope: sorted(types) for scope, types in sorted(found.items())}

    # -- depth ------------------------------------------------------------------------------

    def depth(self) -> int:
        """Tasks waiting in the queue (not yet handed to a worker)."""
        return int(self.client.llen(self.queue))

    def unacked(self) -> int:
        """Tasks handed to a worker and not acknowledged yet (running, or waiting to retry)."""
        return int(self.client.hlen(UNACKED_KEY))

    # -- next runs --------------------------------------------------------------------------

    def publish_next_runs(self, next_runs: dict[tuple[str, str], datetime], ttl: timedelta) -> None:
        mapping = {
            f"{quote(s, safe='')}:{t}": when.isoformat() for (s, t), when in next_runs.items()
        }
        pipe = self.client.pipeline()
        pipe.delete(NEXT_RUNS_KEY)
        if mapping:
            pipe.hset(NEXT_RUNS_KEY, mapping=mapping)  # type: ignore[arg-type]
            pipe.expire(NEXT_RUNS_KEY, max(1, int(ttl.total_seconds())))
        pipe.execute()

    def next_runs(self, source_id: str) -> dict[str, datetime]:
        """Run type -> when the leader fires it next for ``source_id``."""
        raw: dict[bytes, bytes] = self.client.hgetall(NEXT_RUNS_KEY)  # type: ignore[assignment]
        prefix = f"{quote(source_id, safe='')}:"
        found: dict[str, datetime] = {}
        for field, value in raw.items():
            name = field.decode()
            if name.startswith(prefix):
                found[name[len(prefix) :]] = datetime.fromisoformat(value.decode())
        return found
