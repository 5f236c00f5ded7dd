"""Re-indexing on OpenSearch: new indices under their own aliases, then one atomic alias swap.

The new chunk and document indices are created by a second ``OpenSearchIndex`` (its own prefix,
the new settings: analyzer, HNSW parameters, dimension) and filled by the copy and by every
writer (the marker in ``{prefix}-reindex`` names them) while the old aliases serve. The last
pass runs holding every lease of every source, so no sync run writes meanwhile, and the serving
aliases move to the new indices in one ``_aliases`` call: searches never see a missing or
half-filled index, and runs that start afterwards write to the new indices through the same
alias names. The target's own aliases stay on the new indices until the marker is cleared, so
a write that read the marker just before still lands in the serving index. The old indices are
deleted after the swap. ``rebuild()`` (``aliases.py``) is still what a schema upgrade runs at
start-up, when no run can be writing yet.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from indexer.backend import SCHEMA_VERSION
from indexer.backends import Stores
from indexer.backends.opensearch.aliases import alias_target
from indexer.backends.opensearch.client import Gateway
from indexer.backends.opensearch.index import OpenSearchIndex
from indexer.dual_write import forget_target_embedder, register_target_embedder
from indexer.embedding import Embedder, make_embedder
from indexer.operations.reads import reader_for
from indexer.operations.reindex import (
    DEFAULT_WAIT,
    Copier,
    ReindexError,
    ReindexInProgressError,
    ReindexReport,
    hold_all,
    new_owner,
    resumed,
    wait_for_runs,
    writer_keys,
)
from indexer.operations.reindex_marker import MarkerStore, ReindexMarker, marker_store_for
from indexer.settings import EmbeddingSettings, OpenSearchSettings

__all__ = ["ReindexError", "abort_opensearch", "reindex_opensearch"]


def reindex_opensearch(
    stores: Stores,
    *,
    clock: Callable[[], datetime],
    settings: OpenSearchSettings | None = None,
    embedder: Embedder | None = None,
    on_page: Callable[[int], None] | None = None,
    lease_ttl: timedelta = timedelta(minutes=5),
    embedding: EmbeddingSettings | None = None,
    resume: bool = False,
    wait: timedelta = DEFAULT_WAIT,
    by: str = "operator",
) -> ReindexReport:
    """Re-index into new indices and swap the aliases. ``embedding`` (or ``embedder``)
    re-embeds with a new model; ``resume`` carries on with the re-index in progress."""
    index = stores.index
    if not isinstance(index, OpenSearchIndex):
        raise TypeError("reindex_opensearch needs the OpenSearch backend")
    gw = index.gw
    base = settings or index.settings
    markers = marker_store_for(stores.state)
    marker = markers.get()
    owner = new_owner()
    waited = 0.0
    if embedder is None and embedding is not None:
        embedder = make_embedder(embedding)
    if resume:
        marker, embedder = resumed(marker, embedder)
        new_index = OpenSearchIndex(
            gw, base.model_copy(update={"index_prefix": marker.target}), marker.dimension
        )
        if _serving(index) == marker.target_indices:
            # Killed after the alias swap: only the clean-up was left.
            _finish(gw, markers, new_index, marker)
            forget_target_embedder(marker.reindex_id)
            return ReindexReport(
                old=",".join(marker.serving_indices),
                new=",".join(marker.target_indices),
                documents=index.stats().documents,
                passes=0,
                recopied=0,
                removed=0,
                failed=[],
            )
        if None in new_index.concrete_indices():
            raise ReindexError(f"the new indices {marker.target}-* are gone: `--abort`")
        new_index.ensure_schema()
    else:
        if marker is not None:
            raise ReindexInProgressError(marker)
        staging = f"{index.names.prefix}-rx{uuid.uuid4().hex[:8]}"
        dimension = embedder.dimension if embedder is not None else index.dimension
        new_settings = base.model_copy(update={"index_prefix": staging})
        new_index = OpenSearchIndex(gw, new_settings, dimension)
        new_index.ensure_schema()
        serving = _serving(index)
        target = [name or "" for name in new_index.concrete_indices()]
        if not all(serving) or not all(target):
            _drop(gw, target)
            raise ReindexError("an index alias has no index behind it")
        marker = ReindexMarker(
            reindex_id=uuid.uuid4().hex,
            backend="opensearch",
            target=staging,
            dimension=dimension,
            reembed=embedder is not None,
            embedding=embedding,
            schema_version=SCHEMA_VERSION,
            mapping=(
                f"analyzer {base.analyzer}, HNSW m={base.hnsw_m}"
                f" ef_construction={base.hnsw_ef_construction}, {dimension}-d vectors"
            ),
            started_at=clock(),
            by=by,
            serving_indices=serving,
            target_indices=target,
        )
        if embedder is not None:
            register_target_embedder(marker.reindex_id, embedder)
        markers.put(marker)
        try:
            waited += wait_for_runs(
                stores.state,
                writer_keys(stores),
                owner=owner,
                ttl=lease_ttl,
                clock=clock,
                wait=wait,
            )
        except BaseException:
            markers.clear()
            _drop(gw, target)
            forget_target_embedder(marker.reindex_id)
            raise
    markers.put(marker.model_copy(update={"phase": "copying"}))
    copier = Copier(index, new_index, reader_for(index), embedder, on_page)
    copier.copy()
    started = time.monotonic()
    with hold_all(
        stores.state, writer_keys(stores), owner=owner, ttl=lease_ttl, clock=clock, wait=wait
    ) as held:
        waited += time.monotonic() - started
        markers.put(marker.model_copy(update={"phase": "swapping"}))
        renewed = [time.monotonic()]

        def renew() -> None:
            # Well inside the TTL, without a lease write per page.
            if time.monotonic() - renewed[0] > lease_ttl.total_seconds() / 4:
                held.renew(clock())
                renewed[0] = time.monotonic()

        copier.verify(tick=renew)
        new_index.refresh()
        report = copier.report(",".join(marker.serving_indices), ",".join(marker.target_indices))
        old_chunks, old_docs = marker.serving_indices
        new_chunks, new_docs = marker.target_indices
        gw.call(
            gw.client.indices.update_aliases,
            body={
                "actions": [
                    {"remove": {"index": old_chunks, "alias": index.names.chunks}},
                    {"remove": {"index": old_docs, "alias": index.names.documents}},
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
        _finish(gw, markers, new_index, marker)
    forget_target_embedder(marker.reindex_id)
    return report.model_copy(update={"waited_s": round(waited, 3)})


def abort_opensearch(stores: Stores, marker: ReindexMarker) -> None:
    """Under every lease: clear the marker and delete the new indices (or, when the aliases
    were already swapped, finish the swap's clean-up instead: the new indices serve)."""
    index = stores.index
    if not isinstance(index, OpenSearchIndex):
        raise TypeError("abort_opensearch needs the OpenSearch backend")
    markers = marker_store_for(stores.state)
    target = OpenSearchIndex(
        index.gw, index.settings.model_copy(update={"index_prefix": marker.target}), 1
    )
    if _serving(index) == marker.target_indices:
        _finish(index.gw, markers, target, marker)
        return
    markers.clear()
    _drop(index.gw, marker.target_indices)


def _finish(
    gw: Gateway, markers: MarkerStore, new_index: OpenSearchIndex, marker: ReindexMarker
) -> None:
    markers.clear()
    # The target's aliases go only now: a writer that read the marker before it was cleared
    # wrote through them into what is now the serving index.
    actions = [
        {"remove": {"index": name, "alias": alias}}
        for name, alias in zip(
            marker.target_indices, (new_index.names.chunks, new_index.names.documents), strict=True
        )
        if alias_target(gw, alias) == name
    ]
    if actions:
        gw.call(gw.client.indices.update_aliases, body={"actions": actions})
    _drop(gw, marker.serving_indices)


def _serving(index: OpenSearchIndex) -> list[str]:
    return [name or "" for name in index.concrete_indices()]


def _drop(gw: Gateway, names: list[str]) -> None:
    wanted = [name for name in names if name]
    if wanted:
        gw.call(gw.client.indices.delete, index=",".join(wanted), ignore_unavailable=True)
