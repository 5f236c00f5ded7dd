"""Holding every lease of a source (the whole source's and each scope's) for an operator action.

Runs of a source hold the lease of the source or of one scope (``scope_key``); an action that
must not race any of them takes them all, or none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta

from indexer.state_store import Lease, LeaseHeldError, StateStore, scope_key

# Run records read to find the scopes a source has run in.
SCOPE_HISTORY = 500


def lease_keys(state: StateStore, source_ids: Iterable[str]) -> list[str]:
    keys: set[str] = set()
    for source_id in source_ids:
        keys.add(source_id)
        for run in state.recent_runs(source_id, limit=SCOPE_HISTORY):
            keys.add(scope_key(source_id, run.scope))
    return sorted(keys)


class HeldLeases:
    def __init__(self, state: StateStore, leases: list[Lease], ttl: timedelta) -> None:
        self.state = state
        self.leases = leases
        self.ttl = ttl

    def renew(self, now: datetime) -> None:
        self.leases = [self.state.renew_lease(lease, self.ttl, now) for lease in self.leases]


@contextmanager
def hold_leases(
    state: StateStore, keys: Iterable[str], owner: str, ttl: timedelta, now: datetime
) -> Iterator[HeldLeases]:
    """All of ``keys``'s leases, or ``LeaseHeldError`` (and none kept) when a run holds one."""
    taken: list[Lease] = []
    try:
        for key in keys:
            taken.append(state.acquire_lease(key, owner, ttl, now))
    except LeaseHeldError:
        _release(state, taken)
        raise
    held = HeldLeases(state, taken, ttl)
    try:
        yield held
    finally:
        _release(state, held.leases)


def _release(state: StateStore, leases: list[Lease]) -> None:
    for lease in leases:
        with suppress(Exception):  # an unreleased lease expires on its own
            state.release_lease(lease)
