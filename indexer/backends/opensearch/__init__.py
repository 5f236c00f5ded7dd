"""The OpenSearch backend: chunks and document records behind aliases, sync state, directory.

Production index. Needs a node with the k-NN plugin (Lucene engine); the neural-search plugin is
optional. ``deploy/local-opensearch/opensearch start`` provisions a real local node.
"""

from __future__ import annotations

from indexer.backends import Stores
from indexer.backends.opensearch.aliases import SchemaMismatchError, ensure_plain_index
from indexer.backends.opensearch.client import Gateway, make_client
from indexer.backends.opensearch.directory import OpenSearchDirectoryStore
from indexer.backends.opensearch.index import OpenSearchIndex
from indexer.backends.opensearch.mappings import (
    IndexNames,
    directory_body,
    runs_body,
    state_body,
)
from indexer.backends.opensearch.state import OpenSearchStateStore
from indexer.settings import OpenSearchSettings

__all__ = [
    "OpenSearchDirectoryStore",
    "OpenSearchIndex",
    "OpenSearchStateStore",
    "SchemaMismatchError",
    "open_opensearch",
]


def open_opensearch(settings: OpenSearchSettings, dimension: int) -> Stores:
    """Connect, and create (or upgrade) every index the backend uses, idempotently."""
    gw = Gateway(make_client(settings))
    names = IndexNames(settings.index_prefix)
    index = OpenSearchIndex(gw, settings, dimension)
    try:
        index.ensure_schema()
        ensure_plain_index(gw, names.state, state_body())
        ensure_plain_index(gw, names.runs, runs_body())
        ensure_plain_index(gw, names.directory, directory_body())
    except BaseException:
        gw.close()
        raise
    return Stores(
        index=index,
        state=OpenSearchStateStore(gw, names),
        directory=OpenSearchDirectoryStore(gw, names),
    )
