"""A generated source split into scopes, registered as source type ``scoped-synthetic``.

Each scope (``s00``, ``s01``...) holds ``docs_per_scope`` short documents, each a pure function of
(source, scope, number): separate worker processes build the same source from its settings.
A scope run walks its documents in order, skips those whose version the index holds, and
checkpoints every ``checkpoint_every`` documents; ``delay_s`` per document (waited on the run's
stop event) makes a scope last long enough to kill a worker in the middle of it.

Worker processes in tests register the type by adding this module to the registry's packages.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime

from connectors.contract import EMPTY_INDEX, Capabilities, Connector, SyncContext
from connectors.documents import SourceDocument
from connectors.events import (
    ChangeEvent,
    Checkpoint,
    CheckpointReached,
    DocumentUpserted,
    ListingEnd,
    ListingEvent,
    LiveId,
    PermissionsChanged,
    PermissionsEvent,
)
from connectors.registry import SourceSettings, SourceType

UPDATED = datetime(2026, 1, 1, tzinfo=UTC)
_WORDS = tuple("".join(random.Random(f"w{i}").choices("aeioukstnrlmp", k=6)) for i in range(400))


class ScopedSyntheticSettings(SourceSettings):
    type: str = "scoped-synthetic"
    scopes: int = 3
    docs_per_scope: int = 10
    delay_s: float = 0.0
    checkpoint_every: int = 5
    words: int = 12  # words per document: 12 make one chunk


def scope_name(index: int) -> str:
    return f"s{index:02d}"


def external_id(scope: str, number: int) -> str:
    return f"{scope}/doc-{number:06d}"


class ScopedSyntheticConnector(Connector):
    capabilities = Capabilities(incremental=True, listing=True, permissions_refresh=True)

    def __init__(self, settings: ScopedSyntheticSettings, scopes: list[str] | None = None) -> None:
        self.settings = settings
        self.source_id = settings.id
        self._only = scopes
        self.readers = frozenset({f"group:{settings.id}:readers"})

    # -- scopes as units of work (schedules.scopes.ScopedSource) ------------------------------

    @property
    def all_scopes(self) -> list[str]:
        return [scope_name(i) for i in range(self.settings.scopes)]

    @property
    def active(self) -> list[str]:
        # A scope asked for by name but gone from the source (fewer scopes now) holds nothing.
        only = self.all_scopes if self._only is None else self._only
        return [scope for scope in only if scope in self.all_scopes]

    def work_scopes(self) -> list[str]:
        return list(self.all_scopes)

    def for_scope(self, scope: str) -> ScopedSyntheticConnector:
        return ScopedSyntheticConnector(self.settings, [scope])

    def scope_of(self, external: str) -> str:
        return external.split("/", 1)[0]

    # -- the contract -------------------------------------------------------------------------

    def validate(self) -> None:
        return None

    def document(self, scope: str, number: int) -> SourceDocument:
        rng = random.Random(f"{self.source_id}:{scope}:{number}")
        body = " ".join(rng.choices(_WORDS, k=self.settings.words)).capitalize() + "."
        ident = external_id(scope, number)
        return SourceDocument(
            source_id=self.source_id,
            external_id=ident,
            title=ident,
            body=body,
            updated_at=UPDATED,
            version="1",
            acl=self.readers,
        )

    def changes(
        self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        value = checkpoint.value if checkpoint is not None else {}
        done = list(value.get("done", []))
        resume_scope, after = value.get("scope"), int(value.get("after", -1))
        every = max(1, self.settings.checkpoint_every)
        for scope in self.active:
            if scope in done:
                continue
            start = after + 1 if scope == resume_scope else 0
            numbers = list(range(start, self.settings.docs_per_scope))
            for offset in range(0, len(numbers), every):
                page = numbers[offset : offset + every]
                ids = [external_id(scope, n) for n in page]
                versions = {} if context.full else context.indexed_versions(ids)
                for number, ident in zip(page, ids, strict=True):
                    if self.settings.delay_s and context.stop.wait(self.settings.delay_s):
                        return
                    if versions.get(ident) == "1":
                        yield PermissionsChanged(
                            source_id=self.source_id, external_id=ident, acl=self.readers
                        )
                    else:
                        yield DocumentUpserted(document=self.document(scope, number))
                cursor = {"done": done, "scope": scope, "after": page[-1]}
                yield CheckpointReached(checkpoint=Checkpoint(value=cursor))
            done = [*done, scope]
            yield CheckpointReached(checkpoint=Checkpoint(value={"done": done}))
        # Every scope walked: the next incremental starts over (versions make it cheap).
        yield CheckpointReached(checkpoint=Checkpoint(value={"done": []}))

    def list_live_ids(self) -> Iterator[ListingEvent]:
        for scope in self.active:
            for number in range(self.settings.docs_per_scope):
                yield LiveId(external_id=external_id(scope, number))
        yield ListingEnd(completed=True)

    def permissions(
        self, checkpoint: Checkpoint | None = None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[PermissionsEvent]:
        for scope in self.active:
            for number in range(self.settings.docs_per_scope):
                ident = external_id(scope, number)
                yield PermissionsChanged(
                    source_id=self.source_id, external_id=ident, acl=self.readers
                )
        yield CheckpointReached(checkpoint=Checkpoint(value={}))


def _build(settings: ScopedSyntheticSettings, org: object, clock: object) -> Connector:
    return ScopedSyntheticConnector(settings)


SOURCE_TYPE = SourceType(name="scoped-synthetic", settings=ScopedSyntheticSettings, build=_build)
