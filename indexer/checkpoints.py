"""What the state store keeps per source: the changes checkpoint and the permissions checkpoint.

Both are the connector's own resume points. They live in one stored checkpoint (fenced by the
lease like any state write), in an envelope that keeps them apart, so a permissions run resuming
per scope never moves the changes cursor and the other way round. A checkpoint from before the
envelope is read as the changes checkpoint.

The envelope also names the vectors' identity (``EmbeddingSettings.vector_identity``) of the
runs that moved the changes cursor: a cursor walked with other vectors does not say that the
documents behind it carry this run's (``vectors_of``).
"""

from __future__ import annotations

import json

from connectors.events import Checkpoint

_ENVELOPE = "permindex.checkpoints/1"
# A checkpoint is a cursor, not a manifest: anything this large is a connector bug.
MAX_CHECKPOINT_BYTES = 256 * 1024


class CheckpointTooLargeError(ValueError):
    """A connector produced a checkpoint over ``MAX_CHECKPOINT_BYTES``."""


def split(stored: Checkpoint | None) -> tuple[Checkpoint | None, Checkpoint | None]:
    """(changes, permissions) checkpoints held in ``stored``."""
    if stored is None:
        return None, None
    if stored.value.get("envelope") != _ENVELOPE:
        return stored, None
    return _part(stored.value.get("changes")), _part(stored.value.get("permissions"))


def vectors_of(stored: Checkpoint | None) -> str | None:
    """The vectors' identity ``stored`` was saved with; None if it predates the field."""
    if stored is None or stored.value.get("envelope") != _ENVELOPE:
        return None
    vectors = stored.value.get("vectors")
    return vectors if isinstance(vectors, str) else None


def join(
    changes: Checkpoint | None, permissions: Checkpoint | None, vectors: str | None
) -> Checkpoint:
    for part in (changes, permissions):
        if part is not None and len(json.dumps(part.value)) > MAX_CHECKPOINT_BYTES:
            raise CheckpointTooLargeError(
                f"the connector's checkpoint is over {MAX_CHECKPOINT_BYTES} bytes: a checkpoint "
                "must be a resume point, not a copy of the source's state"
            )
    return Checkpoint(
        value={
            "envelope": _ENVELOPE,
            "changes": None if changes is None else changes.value,
            "permissions": None if permissions is None else permissions.value,
            "vectors": vectors,
        }
    )


def _part(value: object) -> Checkpoint | None:
    return Checkpoint(value=value) if isinstance(value, dict) else None
