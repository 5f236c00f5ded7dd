"""Which scheduler enqueues: the holder of a lease in the state store.

Every scheduler calls ``tick()`` a few times per TTL; the leader renews, a standby tries to take
the lease, which it can once the leader has missed renewals for one TTL (it died, or lost the
store). The leader stops enqueueing as soon as it cannot renew, before its lease expires.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from indexer.state_store import Lease, LeaseHeldError, LeaseLostError, StateStore

LEADER_KEY = "permindex:scheduler-leader"

log = logging.getLogger("permindex.schedules.leader")


class LeaderElection:
    def __init__(
        self,
        state: StateStore,
        owner: str,
        ttl: timedelta,
        clock: Callable[[], datetime],
        *,
        key: str = LEADER_KEY,
    ) -> None:
        self.state = state
        self.owner = owner
        self.ttl = ttl
        self.clock = clock
        self.key = key
        self.lease: Lease | None = None

    @property
    def poll_seconds(self) -> float:
        """How often to tick: a quarter of the TTL, so a standby notices an expiry promptly."""
        return max(0.2, self.ttl.total_seconds() / 4)

    def is_leader(self) -> bool:
        """Holding a lease that has not expired by our own clock (checked before each enqueue)."""
        return self.lease is not None and self.clock() < self.lease.expires_at

    def tick(self) -> bool:
        now = self.clock()
        if self.lease is not None:
            try:
                self.lease = self.state.renew_lease(self.lease, self.ttl, now)
                return True
            except LeaseLostError:
                log.warning("leader lease lost", extra={"owner": self.owner})
                self.lease = None
            except Exception as exc:
                # The store is unreachable: keep the lease until it expires, enqueue nothing
                # after that (is_leader turns False by our own clock).
                log.warning("leader lease not renewed", extra={"error": str(exc)})
                return self.is_leader()
        try:
            self.lease = self.state.acquire_lease(self.key, self.owner, self.ttl, now)
        except LeaseHeldError:
            return False
        except Exception as exc:
            log.warning("leader lease not acquired", extra={"error": str(exc)})
            return False
        log.info(
            "became scheduler leader",
            extra={"owner": self.owner, "expires_at": self.lease.expires_at.isoformat()},
        )
        return True

    def resign(self) -> None:
        if self.lease is None:
            return
        try:
            self.state.release_lease(self.lease)
        except Exception:
            log.warning("could not release the leader lease; it expires on its own")
        self.lease = None
