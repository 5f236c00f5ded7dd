from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.documents import SourceDocument
from indexer.chunking import Chunker, ChunkingError
from indexer.settings import ChunkingSettings

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def doc(body: str, content_type: str = "text/plain", **kw) -> SourceDocument:
    fields = {
        "source_id": "wiki",
        "external_id": "page-1",
        "title": "Expense policy",
        "body": body,
        "updated_at": NOW,
        "content_type": content_type,
        "acl": frozenset({"org:acme"}),
        **kw,
    }
    return SourceDocument(**fields)


def test_long_text_is_split_with_every_sentence_kept() -> None:
    sentences = [f"Sentence number {i} talks about travel costs." for i in range(200)]
    chunks = Chunker(ChunkingSettings(chunk_size=64, chunk_overlap=8)).chunk(
        doc(" ".join(sentences))
    )
    assert len(chunks) > 5
    assert [c.index for c in chunks] == list(range(len(chunks)))
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)


def test_embedding_text_carries_title_and_breadcrumbs_but_stored_text_does_not() -> None:
    chunk = Chunker(ChunkingSettings()).chunk(
        doc("Meals are reimbursed up to 40 EUR.", breadcrumbs=("Finance", "Policies"))
    )[0]
    assert chunk.text == "Meals are reimbursed up to 40 EUR."
    assert chunk.embed_text.startswith("Expense policy > Finance > Policies")
    assert chunk.embed_text.endswith(chunk.text)


def test_empty_body_yields_a_title_chunk() -> None:
    chunks = Chunker(ChunkingSettings()).chunk(doc("   \n"))
    assert [c.text for c in chunks] == ["Expense policy"]


def test_markdown_sections_do_not_straddle_headings_and_keep_their_path() -> None:
    body = (
        "# Travel\n\nTrains are fine.\n\n## Hotels\n\nThree stars maximum."
        "\n\n# Meals\n\nUp to 40 EUR."
    )
    chunks = Chunker(ChunkingSettings()).chunk(doc(body, "text/markdown"))
    texts = [c.text for c in chunks]
    assert any("Three stars" in t and "Trains" not in t and "40 EUR" not in t for t in texts)
    hotels = next(c for c in chunks if "Three stars" in c.text)
    assert "Travel" in hotels.embed_text.split("\n\n", 1)[0]


def test_html_is_split_by_blocks_and_scripts_are_dropped() -> None:
    body = (
        "<html><head><title>t</title><script>var secret = 1;</script></head><body>"
        "<h1>Travel</h1><p>Trains are <b>fine</b>.</p><div>Loose text in a div.</div>"
        "<h2>Meals</h2><ul><li>Up to 40 EUR</li></ul></body></html>"
    )
    chunks = Chunker(ChunkingSettings()).chunk(doc(body, "text/html"))
    joined = "\n".join(c.text for c in chunks)
    assert "secret" not in joined
    assert "<p>" not in joined
    for text in ("Trains are", "fine", "Loose text in a div.", "Up to 40 EUR"):
        assert text in joined


def test_oversized_document_is_rejected_with_a_reason() -> None:
    with pytest.raises(ChunkingError, match="max_document_chars"):
        Chunker(ChunkingSettings(max_document_chars=100)).chunk(doc("x" * 101))


def test_overlap_must_be_smaller_than_chunk_size() -> None:
    with pytest.raises(ValueError, match="chunk_overlap"):
        Chunker(ChunkingSettings(chunk_size=64, chunk_overlap=64))
