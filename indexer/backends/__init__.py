"""Index backends: OpenSearch (production) and the embedded SQLite file (default)."""

from __future__ import annotations

from dataclasses import dataclass

from indexer.backend import IndexBackend
from indexer.directory_store import DirectoryStore
from indexer.settings import IndexSettings
from indexer.state_store import StateStore


@dataclass(frozen=True)
class Stores:
    """The three stores one deployment shares: index, sync state and the synced directory."""

    index: IndexBackend
    state: StateStore
    directory: DirectoryStore

    def close(self) -> None:
        self.index.close()


def open_stores(settings: IndexSettings, dimension: int) -> Stores:
    if settings.opensearch is not None:
        from indexer.backends.opensearch import open_opensearch

        return open_opensearch(settings.opensearch, dimension)
    from indexer.backends.embedded import open_embedded

    return open_embedded(settings.embedded, dimension)
