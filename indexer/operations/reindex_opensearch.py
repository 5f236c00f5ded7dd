"""Re-indexing on OpenSearch: new indices under their own aliases, then one atomic alias swap.

The new chunk and document indices are created by a second ``OpenSearchIndex`` (its own prefix,
the new settings: analyzer, HNSW parameters, dimension) and filled while the old aliases
serve. The last catch-up pass runs holding every lease of every source, so no sync run writes
meanwhile, and the serving aliases move to the new indices in the same ``_aliases`` call that
removes the temporary ones: searches never see a missing or half-filled index, and runs that
start afterwards write to the new indices through the same alias names. The old indices are
deleted after the swap. ``rebuild()`` (``aliases.py``) is still what a schema upgrade runs at
start-up, when no run can be writing yet.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from indexer.backends import Stores
from indexer.backends.opensearch.aliases import alias_target
from indexer.backends.opensearch.index import OpenSearchIndex
from indexer.embedding import Embedder
from indexer.operations.leases import hold_leases, lease_keys
from indexer.operations.reads import reader_for
from indexer.operations.reindex import Copier, ReindexReport
from indexer.settings import OpenSearchSettings


class ReindexError(Exception):
    """The re-index could not finish; the old indices still serve, unchanged."""


def reindex_opensearch(
    stores: Stores,
    *,
    clock: Callable[[], datetime],
    settings: OpenSearchSettings | None = None,
    embedder: Embedder | None = None,
    on_page: Callable[[int], None] | None = None,
    lease_ttl: timedelta = timedelta(minutes=5),
) -> ReindexReport:
    index = stores.index
    if not isinstance(index, OpenSearchIndex):
        raise TypeError("reindex_opensearch needs the OpenSearch backend")
    gw = index.gw
    base = settings or index.settings
    staging = f"{index.names.prefix}-rx{uuid.uuid4().hex[:8]}"
    dimension = embedder.dimension if embedder is not None else index.dimension
    new_index = OpenSearchIndex(gw, base.model_copy(update={"index_prefix": staging}), dimension)
    new_index.ensure_schema()
    old_chunks = alias_target(gw, index.names.chunks)
    old_docs = alias_target(gw, index.names.documents)
    new_chunks = alias_target(gw, new_index.names.chunks)
    new_docs = alias_target(gw, new_index.names.documents)
    if None in (old_chunks, old_docs, new_chunks, new_docs):
        raise ReindexError("an index alias has no index behind it")
    try:
        copier = Copier(index, new_index, reader_for(index), embedder, on_page)
        copier.first_pass()
        copier.converge()
        sources = set(copier.sources()) | {r.source_id for r in stores.state.recent_runs(None, 500)}
        keys = lease_keys(stores.state, sorted(sources))
        owner = f"reindex:{uuid.uuid4().hex[:8]}"
        with hold_leases(stores.state, keys, owner, lease_ttl, clock()):
            copier.catch_up()
            new_index.refresh()
            gw.call(
                gw.client.indices.update_aliases,
                body={
                    "actions": [
                        {"remove": {"index": old_chunks, "alias": index.names.chunks}},
                        {"remove": {"index": old_docs, "alias": index.names.documents}},
                        {"remove": {"index": new_chunks, "alias": new_index.names.chunks}},
                        {"remove": {"index": new_docs, "alias": new_index.names.documents}},
                        {
                            "add": {
                                "index": new_chunks,
                                "alias": index.names.chunks,
                                "is_write_index": True,
                            }
                        },
                        {
                            "add": {
                                "index": new_docs,
                                "alias": index.names.documents,
                                "is_write_index": True,
                            }
                        },
                    ]
                },
            )
    except BaseException:
        # The old indices were never touched: drop the half-built ones.
        gw.call(gw.client.indices.delete, index=f"{new_chunks},{new_docs}", ignore_unavailable=True)
        raise
    gw.call(gw.client.indices.delete, index=f"{old_chunks},{old_docs}")
    return copier.report(f"{old_chunks},{old_docs}", f"{new_chunks},{new_docs}")
