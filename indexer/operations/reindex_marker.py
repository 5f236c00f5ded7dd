"""The durable mark of a re-index in progress, beside the sync state.

Set before the copy starts and cleared after the swap (or by an abort). While it is set, every
writer that goes through ``indexer.dual_write`` writes to the serving index and to the target it
names. It lives in the embedded file's ``meta`` table (never copied into the new file, so the
swap clears it) or in a ``{prefix}-reindex`` index on OpenSearch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel

from indexer.backends.embedded.database import Database
from indexer.settings import EmbeddingSettings
from indexer.state_store import StateStore

MARKER_KEY = "reindex_marker"


class ReindexMarker(BaseModel):
    reindex_id: str
    backend: Literal["embedded", "opensearch"]
    # The new file's path, or the alias prefix of the new OpenSearch indices.
    target: str
    dimension: int
    # True when the target's vectors come from another model than the serving index's.
    reembed: bool = False
    # That model, when it can be built from settings in any process (None: the re-indexing
    # process registered it; other processes' writes then fail until it is resumed or aborted).
    embedding: EmbeddingSettings | None = None
    schema_version: int
    mapping: str = ""  # the target's analyzer and vector settings, for the operator
    started_at: datetime
    by: str
    phase: Literal["starting", "copying", "swapping"] = "starting"
    # OpenSearch: the concrete indices behind the serving aliases, and the target's.
    serving_indices: list[str] = []
    target_indices: list[str] = []


class MarkerStore(Protocol):
    def get(self) -> ReindexMarker | None: ...

    def put(self, marker: ReindexMarker) -> None:
        """Durable and visible to every process when it returns."""

    def clear(self) -> None: ...


def marker_store_for(state: StateStore) -> MarkerStore:
    from indexer.backends.embedded.state import EmbeddedStateStore

    if isinstance(state, EmbeddedStateStore):
        return EmbeddedMarkerStore(state.db)
    if type(state).__name__ == "OpenSearchStateStore":
        from indexer.backends.opensearch.state import OpenSearchStateStore
        from indexer.operations.reindex_marker_opensearch import OpenSearchMarkerStore

        assert isinstance(state, OpenSearchStateStore)
        return OpenSearchMarkerStore(state.gw, state.names.prefix)
    return _NoMarker()


class EmbeddedMarkerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self) -> ReindexMarker | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (MARKER_KEY,)).fetchone()
        return None if row is None else ReindexMarker.model_validate_json(row[0])

    def put(self, marker: ReindexMarker) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (MARKER_KEY, marker.model_dump_json()),
            )

    def clear(self) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM meta WHERE key = ?", (MARKER_KEY,))


class _NoMarker:
    """A state store with no place for the marker (a test double): never re-indexing."""

    def get(self) -> ReindexMarker | None:
        return None

    def put(self, marker: ReindexMarker) -> None:
        raise TypeError("this state store cannot keep a re-index marker")

    def clear(self) -> None:
        return None
