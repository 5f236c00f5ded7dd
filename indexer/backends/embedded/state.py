"""Sync state in the embedded file: leases with fencing tokens, checkpoints and run records.

Every lease operation is one ``BEGIN IMMEDIATE`` transaction, so it is atomic across threads and
processes sharing the file: two runs can never both believe they hold a source's lease.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timedelta

from connectors.events import Checkpoint
from indexer.backends.embedded.database import Database
from indexer.backends.embedded.rows import timestamp
from indexer.state_store import Lease, LeaseHeldError, LeaseLostError, RunRecord


class EmbeddedStateStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def acquire_lease(self, source_id: str, owner: str, ttl: timedelta, now: datetime) -> Lease:
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT owner, expires_at, expires_ts FROM leases WHERE source_id = ?", (source_id,)
            ).fetchone()
            if row is not None and row[2] > timestamp(now):
                raise LeaseHeldError(
                    f"source {source_id!r} is being synced by {row[0]} until {row[1]}"
                )
            lease = Lease(
                source_id=source_id, owner=owner, token=uuid.uuid4().hex, expires_at=now + ttl
            )
            self._store(conn, lease)
            return lease

    def renew_lease(self, lease: Lease, ttl: timedelta, now: datetime) -> Lease:
        with self.db.write() as conn:
            self._check_holder(conn, lease)
            renewed = lease.model_copy(update={"expires_at": now + ttl})
            self._store(conn, renewed)
            return renewed

    def release_lease(self, lease: Lease) -> None:
        with self.db.write() as conn:
            conn.execute(
                "DELETE FROM leases WHERE source_id = ? AND token = ?",
                (lease.source_id, lease.token),
            )

    def get_checkpoint(self, source_id: str) -> Checkpoint | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT value FROM checkpoints WHERE source_id = ?", (source_id,)
            ).fetchone()
        return None if row is None else Checkpoint.model_validate_json(row[0])

    def save_checkpoint(self, lease: Lease, checkpoint: Checkpoint) -> None:
        with self.db.write() as conn:
            self._check_holder(conn, lease)
            conn.execute(
                "INSERT INTO checkpoints (source_id, value) VALUES (?, ?)"
                " ON CONFLICT (source_id) DO UPDATE SET value = excluded.value",
                (lease.source_id, checkpoint.model_dump_json()),
            )

    def clear_checkpoint(self, lease: Lease) -> None:
        with self.db.write() as conn:
            self._check_holder(conn, lease)
            conn.execute("DELETE FROM checkpoints WHERE source_id = ?", (lease.source_id,))

    def save_run(self, run: RunRecord) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO runs (run_id, source_id, started_ts, record) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (run_id) DO UPDATE SET source_id = excluded.source_id,"
                " started_ts = excluded.started_ts, record = excluded.record",
                (run.run_id, run.source_id, timestamp(run.started_at), run.model_dump_json()),
            )

    def recent_runs(self, source_id: str | None = None, limit: int = 20) -> list[RunRecord]:
        with self.db.read() as conn:
            if source_id is None:
                rows = conn.execute(
                    "SELECT record FROM runs ORDER BY started_ts DESC, rowid DESC LIMIT ?",
                    (limit,),
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT record FROM runs WHERE source_id = ?"
                    " ORDER BY started_ts DESC, rowid DESC LIMIT ?",
                    (source_id, limit),
                ).fetchall()
        return [RunRecord.model_validate_json(row[0]) for row in rows]

    @staticmethod
    def _check_holder(conn: sqlite3.Connection, lease: Lease) -> None:
        # Fencing: only the token of the current holder is accepted. An expired lease nobody has
        # taken over is still ours; one taken over (new token) or released is not.
        row = conn.execute(
            "SELECT owner, token FROM leases WHERE source_id = ?", (lease.source_id,)
        ).fetchone()
        if row is None or row[1] != lease.token:
            holder = "nobody" if row is None else row[0]
            raise LeaseLostError(
                f"lease on source {lease.source_id!r} is no longer held by {lease.owner} "
                f"(now held by {holder})"
            )

    @staticmethod
    def _store(conn: sqlite3.Connection, lease: Lease) -> None:
        conn.execute(
            "INSERT INTO leases (source_id, owner, token, expires_at, expires_ts)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (source_id) DO UPDATE SET owner = excluded.owner,"
            " token = excluded.token, expires_at = excluded.expires_at,"
            " expires_ts = excluded.expires_ts",
            (
                lease.source_id,
                lease.owner,
                lease.token,
                lease.expires_at.isoformat(),
                timestamp(lease.expires_at),
            ),
        )
