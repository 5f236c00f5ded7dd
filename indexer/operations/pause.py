"""Pausing a source: the scheduler, the workers and ``permindex sync`` skip it until resumed.

A pause stops new runs; a run already holding the source's lease finishes (its writes are
fenced by that lease, never by the pause).
"""

from __future__ import annotations

from datetime import datetime

from indexer.backends import Stores
from indexer.operations.controls import SourceControl, control_of, control_store


class SourcePausedError(Exception):
    """The source is paused (or being deleted): no run starts."""

    def __init__(self, control: SourceControl) -> None:
        self.control = control
        super().__init__(describe_pause(control))


def describe_pause(control: SourceControl) -> str:
    if control.deleting:
        return f"source {control.source_id!r} is being deleted; run the delete again to finish it"
    why = f": {control.reason}" if control.reason else ""
    return f"source {control.source_id!r} is paused{why}; `permindex source resume` to run it"


def pause(
    stores: Stores, source_id: str, *, by: str, now: datetime, reason: str = ""
) -> SourceControl:
    control = control_of(stores, source_id)
    control.paused = True
    control.reason = reason or f"paused by {by}"
    control.log("pause", by, now, reason)
    control_store(stores).put(control)
    return control


def resume(stores: Stores, source_id: str, *, by: str, now: datetime) -> SourceControl:
    control = control_of(stores, source_id)
    if control.deleting:
        # Resuming half a delete would index the source again beside what is left of it.
        raise SourcePausedError(control)
    control.paused = False
    control.reason = None
    control.log("resume", by, now)
    control_store(stores).put(control)
    return control


def paused_control(stores: Stores, source_id: str) -> SourceControl | None:
    """The control that stops ``source_id`` from running, or None when it may run."""
    control = control_store(stores).get(source_id)
    if control is not None and (control.paused or control.deleting):
        return control
    return None


def check_not_paused(stores: Stores, source_id: str) -> None:
    control = paused_control(stores, source_id)
    if control is not None:
        raise SourcePausedError(control)
