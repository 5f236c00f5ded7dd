"""Scopes as units of work: a space, a project, a shared drive, a channel; a folder is one.

A connector that can run one scope at a time offers ``work_scopes()`` and ``for_scope()`` (duck
typed: a connector need not import this module). Every other connector is one scope, ``""``,
and runs exactly as ``permindex sync`` runs it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from connectors.contract import Connector
from indexer.run_types import RunType


@runtime_checkable
class ScopedSource(Protocol):
    def work_scopes(self) -> list[str]:
        """The scopes a run can be split into, in a stable order."""

    def for_scope(self, scope: str) -> Connector:
        """A connector of the same source id whose every stream covers ``scope`` only.

        Also asked for scopes no longer offered whose documents are still indexed (see
        ``schedules.work.plan``): when the source says the scope is gone, its listing ends
        complete and empty and its permissions admit nobody; ``ScopeFailed`` when it cannot
        tell."""


# Directory runs replace the whole source's memberships at once: they are not split.
SOURCE_WIDE = frozenset({RunType.groups})


def scopes_of(connector: Connector, run_type: RunType) -> list[str]:
    if run_type in SOURCE_WIDE or not isinstance(connector, ScopedSource):
        return [""]
    return list(connector.work_scopes()) or [""]


def restrict(connector: Connector, scope: str) -> Connector:
    if not scope:
        return connector
    if not isinstance(connector, ScopedSource):
        raise ValueError(f"source {connector.source_id!r} has no scopes, asked for {scope!r}")
    return connector.for_scope(scope)
