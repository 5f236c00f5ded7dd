"""What an operator set on a source (paused, deleting, retention) and the log of their actions.

Kept beside the sync state (the embedded file's ``meta`` table, or a ``{prefix}-controls``
index) and read by the scheduler and ``permindex sync`` before a run starts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from indexer.backends import Stores
from indexer.state_store import StateStore

# Actions kept per source: the audit trail an operator reads with `permindex source show`.
MAX_HISTORY = 50


class OperatorAction(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: str  # pause | resume | delete-started | delete-finished | retention
    by: str
    at: datetime
    detail: str = ""


class SourceControl(BaseModel):
    source_id: str
    paused: bool = False
    reason: str | None = None
    # A delete started and has not finished: it resumes where it stopped when run again.
    deleting: bool = False
    deleted_at: datetime | None = None
    # Documents not modified for this many days are dropped (None: kept however old).
    retention_days: int | None = Field(default=None, ge=1)
    history: list[OperatorAction] = Field(default_factory=list)

    def log(self, action: str, by: str, at: datetime, detail: str = "") -> None:
        entry = OperatorAction(action=action, by=by, at=at, detail=detail)
        self.history = [*self.history, entry][-MAX_HISTORY:]


@runtime_checkable
class ControlStore(Protocol):
    def get(self, source_id: str) -> SourceControl | None: ...

    def put(self, control: SourceControl) -> None:
        """Durable and visible to every process when it returns."""

    def all(self) -> list[SourceControl]: ...


def control_store(stores: Stores) -> ControlStore:
    """The control store beside ``stores``'s sync state."""
    return control_store_for(stores.state)


def control_store_for(state: StateStore) -> ControlStore:
    from indexer.backends.embedded.state import EmbeddedStateStore

    if isinstance(state, EmbeddedStateStore):
        from indexer.operations.controls_embedded import EmbeddedControlStore

        return EmbeddedControlStore(state.db)
    if type(state).__name__ == "OpenSearchStateStore":
        from indexer.backends.opensearch.state import OpenSearchStateStore
        from indexer.operations.controls_opensearch import OpenSearchControlStore

        assert isinstance(state, OpenSearchStateStore)
        return OpenSearchControlStore(state.gw, state.names.prefix)
    return _NoControls(type(state).__name__)


class _NoControls:
    """A state store with no place for controls (a test double): nothing is ever paused."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def get(self, source_id: str) -> SourceControl | None:
        return None

    def put(self, control: SourceControl) -> None:
        raise TypeError(f"state store {self.kind} cannot keep source controls")

    def all(self) -> list[SourceControl]:
        return []


def control_of(stores: Stores, source_id: str) -> SourceControl:
    return control_store(stores).get(source_id) or SourceControl(source_id=source_id)


def stopped_sources(state: StateStore) -> dict[str, str]:
    """Source id -> why it does not run (paused, or being deleted), for status pages."""
    from indexer.operations.pause import describe_pause

    return {
        control.source_id: describe_pause(control)
        for control in control_store_for(state).all()
        if control.paused or control.deleting
    }
