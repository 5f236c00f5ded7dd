"""A scripted source for platform tests: scopes, versions, refusals and failures on demand.

Behaves like a SaaS connector would: documents live in scopes (spaces, drives), each with a
version; ``changes()`` walks the scopes not yet done (its checkpoint), skips documents whose
version the index already holds, and checkpoints after each scope. Faults are set per test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from connectors.contract import EMPTY_INDEX, Capabilities, Connector, SyncContext
from connectors.documents import SourceDocument
from connectors.errors import RetryableError
from connectors.events import (
    ChangeEvent,
    Checkpoint,
    CheckpointReached,
    DocumentFailed,
    DocumentUpserted,
    ListingEnd,
    ListingEvent,
    LiveId,
    PermissionsChanged,
    PermissionsEvent,
    ScopeFailed,
)

UPDATED = datetime(2026, 1, 1, tzinfo=UTC)
E = TypeVar("E")


@dataclass
class Doc:
    scope: str
    body: str
    acl: frozenset[str]
    version: str = "1"


@dataclass
class Refusal:
    """Raise ``RetryableError(retry_after)`` when about to emit event number ``at`` (once)."""

    at: int
    retry_after: float | None
    times: int = 1


@dataclass
class ScriptedConnector(Connector):
    source_id: str
    docs: dict[str, Doc]
    scopes: list[str]
    failing_scopes: set[str] = field(default_factory=set)
    refusals: list[Refusal] = field(default_factory=list)
    refuse_forever: bool = False
    foreign_source: str | None = None  # emit one event under another source id
    broken: set[str] = field(default_factory=set)  # documents whose fetch fails
    fetched: list[str] = field(default_factory=list)
    emitted: int = 0

    capabilities = Capabilities(
        incremental=True, listing=True, permissions_refresh=True, groups=False
    )

    def validate(self) -> None:
        return None

    # Scopes as units of work (schedules.scopes.ScopedSource): one scope's copy shares the docs.
    def work_scopes(self) -> list[str]:
        return list(self.scopes)

    def for_scope(self, scope: str) -> ScriptedConnector:
        if scope not in self.scopes:
            raise ValueError(f"{self.source_id} has no scope {scope!r}")
        return dataclasses.replace(self, scopes=[scope], fetched=[], emitted=0)

    def scope_of(self, external_id: str) -> str:
        doc = self.docs.get(external_id)
        return doc.scope if doc is not None else external_id.split("/", 1)[0]

    def changes(
        self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        done = list(checkpoint.value.get("done", [])) if checkpoint else []
        for scope in self.scopes:
            if scope in done:
                continue
            if scope in self.failing_scopes:
                yield self._tick(ScopeFailed(scope=scope, reason=f"403 on space {scope}"))
                continue
            ids = sorted(i for i, d in self.docs.items() if d.scope == scope)
            versions = {} if context.full else context.indexed_versions(ids)
            for external_id in ids:
                doc = self.docs[external_id]
                if versions.get(external_id) == doc.version:
                    yield self._tick(self._acl(external_id))
                    continue
                self.fetched.append(external_id)
                if external_id in self.broken:
                    reason = f"cannot fetch: 500 Internal Server Error for {external_id}"
                    failed = DocumentFailed(
                        source_id=self.source_id, external_id=external_id, reason=reason
                    )
                    yield self._tick(failed)
                    continue
                yield self._tick(DocumentUpserted(document=self._document(external_id)))
            done.append(scope)
            yield self._tick(CheckpointReached(checkpoint=Checkpoint(value={"done": done})))
        if self.foreign_source is not None:
            yield self._tick(
                PermissionsChanged(source_id=self.foreign_source, external_id="x", acl=frozenset())
            )
        # The next incremental starts over: versions keep the rework cheap.
        yield CheckpointReached(checkpoint=Checkpoint(value={"done": []}))

    def list_live_ids(self) -> Iterator[ListingEvent]:
        for scope in self.scopes:
            if scope in self.failing_scopes:
                yield ScopeFailed(scope=scope, reason=f"403 listing space {scope}")
                continue
            for external_id in sorted(i for i, d in self.docs.items() if d.scope == scope):
                yield LiveId(external_id=external_id)
        yield ListingEnd(completed=True)

    def permissions(
        self, checkpoint: Checkpoint | None = None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[PermissionsEvent]:
        done = list(checkpoint.value.get("done", [])) if checkpoint else []
        for scope in self.scopes:
            if scope in done:
                continue
            if scope in self.failing_scopes:
                yield self._tick(ScopeFailed(scope=scope, reason=f"403 on space {scope}"))
                continue
            for external_id in sorted(i for i, d in self.docs.items() if d.scope == scope):
                yield self._tick(self._acl(external_id))
            done.append(scope)
            yield self._tick(CheckpointReached(checkpoint=Checkpoint(value={"done": done})))
        # Walked every scope: the next permissions run starts over.
        yield CheckpointReached(checkpoint=Checkpoint(value={"done": []}))

    def _tick(self, event: E) -> E:
        if self.refuse_forever:
            raise RetryableError("429 Too Many Requests", retry_after=30.0)
        for refusal in self.refusals:
            if refusal.times > 0 and self.emitted == refusal.at:
                refusal.times -= 1
                raise RetryableError("429 Too Many Requests", retry_after=refusal.retry_after)
        self.emitted += 1
        return event

    def _acl(self, external_id: str) -> PermissionsChanged:
        acl = self.docs[external_id].acl
        return PermissionsChanged(source_id=self.source_id, external_id=external_id, acl=acl)

    def _document(self, external_id: str) -> SourceDocument:
        doc = self.docs[external_id]
        return SourceDocument(
            source_id=self.source_id,
            external_id=external_id,
            title=external_id,
            body=doc.body,
            updated_at=UPDATED,
            version=doc.version,
            acl=doc.acl,
        )
