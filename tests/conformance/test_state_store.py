"""Sync state on both backends: exclusive leases, expiry takeover, fencing, checkpoints, runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.events import Checkpoint
from indexer.backends import Stores
from indexer.state_store import (
    DocumentError,
    LeaseHeldError,
    LeaseLostError,
    RunCounts,
    RunRecord,
)

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)


def test_a_lease_is_exclusive_until_released(stores: Stores) -> None:
    state = stores.state
    lease = state.acquire_lease("wiki", "worker-a", TTL, NOW)
    assert (lease.source_id, lease.owner) == ("wiki", "worker-a")
    assert lease.expires_at == NOW + TTL
    with pytest.raises(LeaseHeldError):
        state.acquire_lease("wiki", "worker-b", TTL, NOW + timedelta(minutes=1))
    # Other sources are independent.
    other = state.acquire_lease("jira", "worker-b", TTL, NOW)
    assert other.source_id == "jira"

    state.release_lease(lease)
    again = state.acquire_lease("wiki", "worker-b", TTL, NOW + timedelta(minutes=1))
    assert again.owner == "worker-b"
    assert again.token != lease.token


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_fenced(stores: Stores) -> None:
    state = stores.state
    old = state.acquire_lease("wiki", "worker-a", TTL, NOW)
    state.save_checkpoint(old, Checkpoint(value={"cursor": 1}))

    later = NOW + TTL + timedelta(seconds=1)
    new = state.acquire_lease("wiki", "worker-b", TTL, later)
    assert new.token != old.token

    with pytest.raises(LeaseLostError):
        state.renew_lease(old, TTL, later)
    with pytest.raises(LeaseLostError):
        state.save_checkpoint(old, Checkpoint(value={"cursor": 99}))
    with pytest.raises(LeaseLostError):
        state.clear_checkpoint(old)
    # The fenced writes changed nothing; the new holder's writes land.
    assert state.get_checkpoint("wiki") == Checkpoint(value={"cursor": 1})
    state.save_checkpoint(new, Checkpoint(value={"cursor": 2}))
    assert state.get_checkpoint("wiki") == Checkpoint(value={"cursor": 2})

    # Releasing a lost lease must not release the new holder's lease.
    state.release_lease(old)
    with pytest.raises(LeaseHeldError):
        state.acquire_lease("wiki", "worker-c", TTL, later)


def test_renewal_extends_the_lease(stores: Stores) -> None:
    state = stores.state
    lease = state.acquire_lease("wiki", "worker-a", TTL, NOW)
    renewed = state.renew_lease(lease, TTL, NOW + timedelta(minutes=4))
    assert renewed.expires_at == NOW + timedelta(minutes=9)
    assert renewed.token == lease.token
    # Past the first expiry but within the renewed one: still held.
    with pytest.raises(LeaseHeldError):
        state.acquire_lease("wiki", "worker-b", TTL, NOW + timedelta(minutes=6))
    state.save_checkpoint(renewed, Checkpoint(value={"page": "abc"}))
    assert state.get_checkpoint("wiki") == Checkpoint(value={"page": "abc"})


def test_checkpoints_round_trip_and_clear(stores: Stores) -> None:
    state = stores.state
    assert state.get_checkpoint("wiki") is None
    lease = state.acquire_lease("wiki", "worker-a", TTL, NOW)
    value = {"token": "p-123", "channels": {"C1": "1700000000.000100"}, "n": [1, 2]}
    state.save_checkpoint(lease, Checkpoint(value=value))
    assert state.get_checkpoint("wiki") == Checkpoint(value=value)
    assert state.get_checkpoint("jira") is None
    state.clear_checkpoint(lease)
    assert state.get_checkpoint("wiki") is None


def _run(run_id: str, source: str, minute: int, status: str = "succeeded") -> RunRecord:
    return RunRecord(
        run_id=run_id,
        source_id=source,
        run_type="incremental",
        status=status,
        started_at=NOW + timedelta(minutes=minute),
        ended_at=NOW + timedelta(minutes=minute, seconds=30) if status != "running" else None,
        counts=RunCounts(created=minute, failed=1),
        errors=[DocumentError(doc_id=f"{source}:bad", reason="undecodable")],
    )


def test_run_records_are_upserted_and_listed_newest_first(stores: Stores) -> None:
    state = stores.state
    state.save_run(_run("r1", "wiki", 1))
    state.save_run(_run("r2", "jira", 2))
    state.save_run(_run("r3", "wiki", 3, status="running"))
    finished = _run("r3", "wiki", 3, status="failed").model_copy(update={"message": "index down"})
    state.save_run(finished)

    assert [r.run_id for r in state.recent_runs()] == ["r3", "r2", "r1"]
    assert [r.run_id for r in state.recent_runs("wiki")] == ["r3", "r1"]
    assert [r.run_id for r in state.recent_runs(limit=1)] == ["r3"]
    [latest] = state.recent_runs("wiki", limit=1)
    assert latest == finished
    assert state.recent_runs("nothing") == []
