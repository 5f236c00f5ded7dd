"""Small scripted sources for the fault tests, and the check that an index matches its source."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from connectors.org import OrgPolicy
from indexer.backends import Stores
from indexer.embedding import HashingEmbedder
from indexer.retry import RetryPolicy
from indexer.runner import SyncRunner
from indexer.settings import ChunkingSettings
from tests.connectors.scripted import Doc, ScriptedConnector

E = TypeVar("E")

ORG = OrgPolicy(tenant="acme", domains=frozenset({"acme.com"}))
USERS = ("alice@acme.com", "bob@acme.com", "carol@acme.com")
EMBEDDER = HashingEmbedder(16)


def user(email: str) -> str:
    return f"user:{email}"


def seeded_docs(word: str, per_scope: int = 3) -> dict[str, Doc]:
    """``per_scope`` documents in scopes ``a`` and ``b``; alice and bob read ``a``, carol ``b``."""
    docs: dict[str, Doc] = {}
    for scope, readers in (("a", ("alice@acme.com", "bob@acme.com")), ("b", ("carol@acme.com",))):
        for n in range(per_scope):
            docs[f"{scope}/{n}"] = Doc(
                scope=scope,
                body=f"{word} notes {scope} {n}",
                acl=frozenset(user(r) for r in readers),
            )
    return docs


@dataclass
class GatedConnector(ScriptedConnector):
    """Pauses before event number ``pause_at`` until ``resume`` is set (once), so a test can
    break the index in the middle of the run at a known point."""

    pause_at: int | None = None
    reached: threading.Event = field(default_factory=threading.Event)
    resume: threading.Event = field(default_factory=threading.Event)

    def _tick(self, event: E) -> E:
        if self.pause_at is not None and self.emitted == self.pause_at:
            self.pause_at = None
            self.reached.set()
            if not self.resume.wait(120):
                raise RuntimeError("the test never resumed the paused run")
        return super()._tick(event)


def runner(connector: ScriptedConnector, stores: Stores, **options: Any) -> SyncRunner:
    settings: dict[str, Any] = {
        "chunking": ChunkingSettings(chunk_size=64, chunk_overlap=8),
        "model_name": "hashing:16",
        "clock": lambda: datetime.now(UTC),
        # One event and one document per batch: the outage lands between two writes.
        "event_batch": 1,
        "write_batch_docs": 1,
        # Short: a run that could not release its lease (the index was down) must not block
        # the next run for the default five minutes.
        "lease_ttl": timedelta(seconds=3),
        "retry": RetryPolicy(attempts=1),
    }
    settings.update(options)
    return SyncRunner(connector, stores, EMBEDDER, **settings)


def assert_matches_source(stores: Stores, source_id: str, docs: dict[str, Doc]) -> None:
    """Every document of the source is indexed, readable by exactly its ACL's users among
    ``USERS``; nothing the source no longer has remains."""
    stores.index.refresh()
    indexed = {fp.external_id: fp.doc_id for fp in stores.index.iter_fingerprints(source_id)}
    assert set(indexed) == set(docs), f"index {sorted(indexed)} != source {sorted(docs)}"
    for external_id, doc in docs.items():
        for email in USERS:
            principals = frozenset({user(email)})
            visible = stores.index.get_document_chunks(indexed[external_id], principals)
            expected = user(email) in doc.acl
            assert bool(visible) == expected, (
                f"{source_id}/{external_id}: {email} {'cannot' if expected else 'can'} read it"
            )
            if visible:
                assert doc.body in " ".join(hit.text for hit in visible)


def external_ids(stores: Stores, source_id: str) -> set[str]:
    stores.index.refresh()
    return {fp.external_id for fp in stores.index.iter_fingerprints(source_id)}
