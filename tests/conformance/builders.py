"""Small builders for the conformance suite: documents with hand-made vectors and ACLs."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from indexer.records import ChunkWrite, DocumentWrite

ALICE = "user:alice@example.com"
BOB = "user:bob@example.com"
ENG = "group:wiki:eng"
ORG = "org:example"

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def axis(i: int, dimension: int) -> list[float]:
    """The unit vector along axis ``i``: nearest to itself, orthogonal to the other axes."""
    vector = [0.0] * dimension
    vector[i % dimension] = 1.0
    return vector


def blend(a: Sequence[float], b: Sequence[float], weight_b: float) -> list[float]:
    mixed = [(1 - weight_b) * x + weight_b * y for x, y in zip(a, b, strict=True)]
    norm = math.sqrt(sum(x * x for x in mixed))
    return [x / norm for x in mixed]


def document(
    source: str,
    external_id: str,
    chunks: Sequence[tuple[str, Sequence[float]]],
    acl: Iterable[str],
    *,
    title: str | None = None,
    doc_type: str = "page",
    updated_at: datetime = T0,
    content_fingerprint: str = "c1",
    acl_fingerprint: str = "a1",
) -> DocumentWrite:
    return DocumentWrite(
        doc_id=f"{source}:{external_id}",
        source_id=source,
        external_id=external_id,
        title=title if title is not None else f"Document {external_id}",
        url=f"https://example.com/{source}/{external_id}",
        author="alice@example.com",
        doc_type=doc_type,
        content_type="text/plain",
        updated_at=updated_at,
        breadcrumbs=("Space", "Parent"),
        metadata={"k": "v"},
        acl=frozenset(acl),
        content_fingerprint=content_fingerprint,
        acl_fingerprint=acl_fingerprint,
        chunks=[
            ChunkWrite(index=i, text=text, vector=list(vector))
            for i, (text, vector) in enumerate(chunks)
        ],
    )
