"""The OpenSearch backend: chunks and document records behind aliases, sync state, directory.

Production index. Needs a node with the k-NN plugin (Lucene engine) and the analysis-common
module. ``deploy/local-opensearch/opensearch start`` provisions a real local node.
"""

from __future__ import annotations

import logging

from indexer.backend import IndexUnavailableError
from indexer.backends import Stores
from indexer.backends.opensearch.aliases import SchemaMismatchError
from indexer.backends.opensearch.client import Gateway, make_client
from indexer.backends.opensearch.directory import OpenSearchDirectoryStore
from indexer.backends.opensearch.index import OpenSearchIndex
from indexer.backends.opensearch.mappings import IndexNames
from indexer.backends.opensearch.state import OpenSearchStateStore
from indexer.settings import OpenSearchSettings

log = logging.getLogger(__name__)

__all__ = [
    "OpenSearchDirectoryStore",
    "OpenSearchIndex",
    "OpenSearchStateStore",
    "SchemaMismatchError",
    "open_opensearch",
]


def open_opensearch(settings: OpenSearchSettings, dimension: int) -> Stores:
    """Connect, and create (or upgrade) every index the backend uses, idempotently.

    A node that is down does not fail the open: the indices are then created on first use, and
    every call raises ``IndexUnavailableError`` until the node answers (so a service can start,
    report not-ready, and recover). A schema that does not fit raises ``SchemaMismatchError``.
    """
    gw = Gateway(make_client(settings))
    names = IndexNames(settings.index_prefix)
    index = OpenSearchIndex(gw, settings, dimension)
    state = OpenSearchStateStore(gw, names)
    directory = OpenSearchDirectoryStore(gw, names)
    try:
        index.ensure_schema()
        state.ensure_indices()
        directory.ensure_index()
    except IndexUnavailableError as exc:
        log.warning(
            "OpenSearch at %s is unavailable (%s); indices will be created on first use",
            settings.url,
            exc,
        )
    except BaseException:
        gw.close()
        raise
    return Stores(index=index, state=state, directory=directory)
