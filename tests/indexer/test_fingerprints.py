from __future__ import annotations

from datetime import UTC, datetime

from connectors.documents import SourceDocument
from indexer.fingerprints import acl_fingerprint, content_fingerprint, fields_fingerprint
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
        BASE.model_copy(update={"content_type": "text/markdown"}),
    ]
    prints = {fp(v) for v in variants}
    assert len(prints) == len(variants) and fp(BASE) not in prints
    assert fp(BASE, ChunkingSettings(chunk_size=128)) != fp(BASE)
    assert fp(BASE, ChunkingSettings(max_document_chars=10)) != fp(BASE)
    assert fp(BASE, model="other-model") != fp(BASE)
    # Text changes are not field changes: the document is rewritten whole, fields included.
    assert {fields_fingerprint(v) for v in variants} == {fields_fingerprint(BASE)}


def test_a_field_only_change_leaves_the_content_fingerprint_and_changes_the_fields_one() -> None:
    # What a Jira status change, a Slack edit time or a Drive rename of the owner looks like:
    # the index re-writes the fields, nothing is re-chunked or re-embedded.
    variants = [
        BASE.model_copy(update={"metadata": {"status": "Done"}}),
        BASE.model_copy(update={"metadata": {"labels": ["a", "b"]}}),
        BASE.model_copy(update={"metadata": {"labels": ["b", "a"]}}),
        BASE.model_copy(update={"metadata": {"points": 3}}),
        BASE.model_copy(update={"metadata": {"points": "3"}}),
        BASE.model_copy(update={"updated_at": datetime(2024, 1, 2, tzinfo=UTC)}),
        BASE.model_copy(update={"created_at": datetime(2023, 1, 1, tzinfo=UTC)}),
        BASE.model_copy(update={"url": "https://x"}),
        BASE.model_copy(update={"author": "bob@example.com"}),
        BASE.model_copy(update={"doc_type": "ticket"}),
    ]
    for variant in variants:
        assert fp(variant) == fp(BASE), variant
    fields = {fields_fingerprint(v) for v in variants}
    assert len(fields) == len(variants) and fields_fingerprint(BASE) not in fields
    # Neither the ACL nor the chunking settings are fields.
    other_acl = BASE.model_copy(update={"acl": frozenset({"user:b@example.com"})})
    assert fields_fingerprint(other_acl) == fields_fingerprint(BASE)


def test_the_fields_fingerprint_does_not_depend_on_key_order() -> None:
    one = BASE.model_copy(update={"metadata": {"a": "1", "b": "2"}})
    two = BASE.model_copy(update={"metadata": {"b": "2", "a": "1"}})
    assert fields_fingerprint(one) == fields_fingerprint(two)


def test_acl_fingerprint_ignores_order() -> None:
    assert acl_fingerprint(["org:a", "user:x@y.z"]) == acl_fingerprint(["user:x@y.z", "org:a"])
