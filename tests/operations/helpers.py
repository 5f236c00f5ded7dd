"""Builders of the operator-action tests: documents with hand-made vectors, what a user finds."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from connectors.directory import GroupMembership
from indexer.backends import Stores
from indexer.records import SearchFilters
from indexer.state_store import scope_key
from tests.conformance.builders import ALICE, axis, document

NOW = datetime(2026, 6, 1, tzinfo=UTC)
WORDS = ("invoice", "roadmap", "runbook", "salary", "ledger", "budget")


def write_docs(
    stores: Stores,
    source: str,
    count: int,
    *,
    start: int = 0,
    acl: str = ALICE,
    updated_at: datetime = NOW,
    dimension: int = 8,
    tag: str = "v1",
) -> list[str]:
    writes = [
        document(
            source,
            f"d{i}",
            [(f"{WORDS[i % len(WORDS)]} {source} number{i} {tag}", axis(i, dimension))]
            * (1 + i % 3),
            [acl],
            updated_at=updated_at,
            content_fingerprint=f"c-{tag}-{i}",
        ).model_copy(update={"indexed_at": datetime.now(UTC)})
        for i in range(start, start + count)
    ]
    result = stores.index.write_documents(writes)
    assert not result.failed
    stores.index.refresh()
    return [w.doc_id for w in writes]


def found(stores: Stores, query: str, principal: str = ALICE, k: int = 2000) -> set[str]:
    hits = stores.index.keyword_search(query, frozenset({principal}), SearchFilters(), k)
    return {hit.doc_id for hit in hits}


def doc_ids(stores: Stores, source: str) -> set[str]:
    stores.index.refresh()
    return {fp.doc_id for fp in stores.index.iter_fingerprints(source)}


def seed_state(stores: Stores, source: str, when: datetime = NOW) -> None:
    """A checkpoint and group memberships, as a source's runs would leave them."""
    from connectors.events import Checkpoint
    from indexer.state_store import RunRecord

    for key in (source, scope_key(source, "space-a")):
        lease = stores.state.acquire_lease(key, "test", timedelta(minutes=1), when)
        stores.state.save_checkpoint(lease, Checkpoint(value={"cursor": key}))
        stores.state.release_lease(lease)
    stores.state.save_run(
        RunRecord(
            run_id=f"{source}-scope-run",
            source_id=source,
            run_type="incremental",
            status="succeeded",
            started_at=when,
            scope="space-a",
        )
    )
    stores.directory.replace_groups(
        source, [GroupMembership(group=f"group:{source}:eng", members=frozenset({ALICE}))]
    )


class HashEmbedder:
    """A deterministic stand-in model: the same text always gets the same unit vector."""

    def __init__(self, dimension: int = 8) -> None:
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        vector = [b - 127.5 for b in digest[: self._dimension]]
        norm = sum(x * x for x in vector) ** 0.5
        return [x / norm for x in vector]
