"""Factories from configuration: a connector per source config, the embedder per model setting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from connectors.contract import Connector
from connectors.org import OrgPolicy
from connectors.registry import build_connector as build_registered
from indexer.embedding import (
    DEFAULT_MODEL,
    HASHING_PREFIX,
    HashingEmbedder,
    make_embedder,
)
from indexer.settings import EmbeddingSettings
from permindex.config import PermindexConfig, SourceConfig

# The packaged default model's width, so read-only commands (status) need not load it.
_KNOWN_DIMENSIONS = {DEFAULT_MODEL: 384, f"sentence-transformers/{DEFAULT_MODEL}": 384}


def build_connector(
    source: SourceConfig, *, org: OrgPolicy, clock: Callable[[], datetime]
) -> Connector:
    """The connector for one configured source, in the deployment's one tenant."""
    return build_registered(source, org, clock)


def configured_connectors(config: PermindexConfig) -> Callable[[str], Connector]:
    """The configured sources' connectors by id (KeyError for an unknown one): what the service
    is handed for the prune preview."""
    known = {source.id for source in config.sources}

    def connector_for(source_id: str) -> Connector:
        if source_id not in known:
            raise KeyError(source_id)
        source = config.source(source_id)
        return build_connector(source, org=config.org_policy, clock=lambda: datetime.now(UTC))

    return connector_for


def embedding_dimension(settings: EmbeddingSettings) -> int:
    """The vector width ``settings`` produce, loading the model only when it is not known."""
    if settings.model.startswith(HASHING_PREFIX):
        return HashingEmbedder.from_model_name(settings.model).dimension
    known = _KNOWN_DIMENSIONS.get(settings.model)
    if known is not None:
        return known
    return make_embedder(settings).dimension
