"""Content and ACL fingerprints, kept apart so an ACL-only change never costs an embedding.

The content fingerprint covers everything that shapes the stored chunks, their vectors or the
fields written beside them: the document's fields, the chunking settings and the embedding model.
Changing any of them re-chunks and re-embeds the document; nothing else does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from connectors.documents import SourceDocument
from indexer.settings import ChunkingSettings

# Bump when the chunking or embedding-text recipe changes so every document is rebuilt once.
PIPELINE_VERSION = 1


def _digest(payload: object) -> str:
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def content_fingerprint(
    document: SourceDocument, chunking: ChunkingSettings, model_name: str
) -> str:
    return _digest(
        {
            "v": PIPELINE_VERSION,
            "title": document.title,
            "body": document.body,
            "url": document.url,
            "author": document.author,
            "created_at": document.created_at.isoformat() if document.created_at else None,
            # The index stores updated_at and filters on it: a stale value would be a wrong answer.
            "updated_at": document.updated_at.isoformat(),
            "content_type": document.content_type,
            "doc_type": document.doc_type,
            "breadcrumbs": list(document.breadcrumbs),
            "metadata": document.metadata,
            "chunking": chunking.model_dump(mode="json"),
            "model": model_name,
        }
    )


def acl_fingerprint(acl: Iterable[str]) -> str:
    return _digest(sorted(set(acl)))
