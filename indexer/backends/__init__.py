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
    # Every process that opens the index (runs, the service's access diff, the CLI) keeps and
    # reads the same span of access journal.
    from indexer.access_journal import configure_access_journal

    if settings.opensearch is not None:
        from indexer.backends.opensearch import open_opensearch

        stores = open_opensearch(settings.opensearch, dimension)
    else:
        from indexer.backends.embedded import open_embedded

        stores = open_embedded(settings.embedded, dimension)
    configure_access_journal(stores.index, settings.access_journal_days)
    return stores
