from __future__ import annotations

from datetime import UTC, datetime

from connectors.documents import SourceDocument
from indexer.fingerprints import acl_fingerprint, content_fingerprint
from indexer.settings import ChunkingSettings

BASE = SourceDocument(
    source_id="wiki",
    external_id="p1",
    title="Title",
    body="Body",
    updated_at=datetime(2024, 1, 1, tzinfo=UTC),
    acl=frozenset({"user:a@example.com"}),
)
SETTINGS = ChunkingSettings()


def fp(document: SourceDocument, settings: ChunkingSettings = SETTINGS, model: str = "m") -> str:
    return content_fingerprint(document, settings, model)


def test_acl_change_does_not_change_the_content_fingerprint() -> None:
    other = BASE.model_copy(update={"acl": frozenset({"user:b@example.com"})})
    assert fp(other) == fp(BASE)
    assert acl_fingerprint(other.acl) != acl_fingerprint(BASE.acl)


def test_everything_that_shapes_chunks_changes_the_content_fingerprint() -> None:
    variants = [
        BASE.model_copy(update={"title": "T2"}),
        BASE.model_copy(update={"body": "Body2"}),
        BASE.model_copy(update={"breadcrumbs": ("A",)}),
        BASE.model_copy(update={"url": "https://x"}),
        BASE.model_copy(update={"doc_type": "ticket"}),
        BASE.model_copy(update={"metadata": {"k": "v"}}),
    ]
    prints = {fp(v) for v in variants}
    assert len(prints) == len(variants) and fp(BASE) not in prints
    assert fp(BASE, ChunkingSettings(chunk_size=128)) != fp(BASE)
    assert fp(BASE, model="other-model") != fp(BASE)


def test_acl_fingerprint_ignores_order() -> None:
    assert acl_fingerprint(["org:a", "user:x@y.z"]) == acl_fingerprint(["user:x@y.z", "org:a"])
