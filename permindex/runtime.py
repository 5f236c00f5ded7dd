"""Opens what the operator commands work on, from the configuration."""

from __future__ import annotations

from indexer.backends import open_stores
from indexer.embedding import Embedder, make_embedder
from permindex.config import PermindexConfig
from permindex.sources import build_connector, embedding_dimension
from schedules.commands import Clock, Runtime, utc_now


def open_runtime(
    config: PermindexConfig, *, clock: Clock = utc_now, embedder: Embedder | None = None
) -> Runtime:
    if embedder is not None:
        dimension = embedder.dimension
    else:
        dimension = embedding_dimension(config.embedding)
    stores = open_stores(config.index, dimension)
    stores.index.ensure_schema()
    return Runtime(
        stores=stores,
        source_ids=[source.id for source in config.sources],
        connector_for=lambda source_id: build_connector(
            config.source(source_id), org=config.org_policy, clock=clock
        ),
        embedder_factory=lambda: make_embedder(config.embedding),
        chunking=config.chunking,
        model_name=config.embedding.vector_identity,
        sync=config.sync,
        schedules=config.schedules,
        clock=clock,
        _embedder=embedder,
    )
