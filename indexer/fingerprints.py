"""Content, fields and ACL fingerprints, kept apart so each kind of change costs only its own work.

The content fingerprint covers what shapes the stored chunk text and its vectors: title, body,
breadcrumbs (in the embedded text), content type (picks the splitter), the chunking settings and
the embedding model. Changing any of them re-chunks and re-embeds the document; nothing else does.

The fields fingerprint covers the fields stored beside the chunks (url, author, doc type, dates,
metadata): a change to them alone re-writes those fields (``IndexBackend.update_fields``) without
re-embedding. The ACL fingerprint covers the permissions (``replace_acls``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from connectors.documents import SourceDocument
from indexer.settings import ChunkingSettings

# Bump when the chunking or embedding-text recipe changes so every document is rebuilt once.
# 2: the fields moved out of the content fingerprint (and the index stores created_at/metadata).
PIPELINE_VERSION = 2


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
            "breadcrumbs": list(document.breadcrumbs),
            "content_type": document.content_type,
            "chunking": chunking.model_dump(mode="json"),
            "model": model_name,
        }
    )


def fields_fingerprint(document: SourceDocument) -> str:
    return _digest(
        {
            "v": PIPELINE_VERSION,
            "url": document.url,
            "author": document.author,
            "doc_type": document.doc_type,
            "created_at": document.created_at.isoformat() if document.created_at else None,
            # The index stores updated_at and filters on it: a stale value would be a wrong answer.
            "updated_at": document.updated_at.isoformat(),
            "metadata": document.metadata,
        }
    )


def acl_fingerprint(acl: Iterable[str]) -> str:
    return _digest(sorted(set(acl)))
