"""The embedded backend: index, vectors, sync state and directory in one local SQLite file.

The default when no OpenSearch URL is configured. Same contract and semantics as OpenSearch:
BM25 via FTS5, exact vector search, the ACL filter applied before top-k, transactional writes.
"""

from __future__ import annotations

from indexer.backends import Stores
from indexer.backends.embedded.database import Database
from indexer.backends.embedded.directory import EmbeddedDirectoryStore
from indexer.backends.embedded.index import EmbeddedIndex
from indexer.backends.embedded.schema import SchemaError
from indexer.backends.embedded.state import EmbeddedStateStore
from indexer.settings import EmbeddedSettings

__all__ = [
    "EmbeddedDirectoryStore",
    "EmbeddedIndex",
    "EmbeddedStateStore",
    "SchemaError",
    "open_embedded",
]


def open_embedded(settings: EmbeddedSettings, dimension: int) -> Stores:
    """Open (creating or upgrading) the file at ``settings.path`` for ``dimension``-d vectors."""
    db = Database(settings.path)
    index = EmbeddedIndex(db, dimension)
    try:
        index.ensure_schema()
    except BaseException:
        db.close()
        raise
    return Stores(index=index, state=EmbeddedStateStore(db), directory=EmbeddedDirectoryStore(db))
