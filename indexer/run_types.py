"""The kinds of sync run and the progress interface a front end implements."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from indexer.state_store import RunRecord


class RunType(StrEnum):
    incremental = "incremental"  # changes since the stored checkpoint
    full = "full"  # every document, then prune what the source no longer lists
    permissions = "permissions"  # re-read ACLs only
    groups = "groups"  # group memberships and identity mappings
    prune = "prune"  # ids only: delete what the source no longer lists, read no content


class UnsupportedRunError(ValueError):
    """The connector's capabilities do not allow this run type."""


class ProgressSink(Protocol):
    """Receives progress of a run; calls arrive on the run's thread, so keep them cheap."""

    def started(self, run_type: str, total: int | None) -> None:
        """``total`` is the number of documents when known in advance, else None."""

    def advanced(self, documents: int, chunks: int) -> None:
        """Increments since the previous call: documents handled, chunks embedded."""

    def finished(self, record: RunRecord) -> None: ...
