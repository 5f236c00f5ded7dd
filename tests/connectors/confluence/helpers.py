"""Building the Confluence connector over the emulator, running it, and searching as a user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.confluence import ConfluenceConnector
from connectors.confluence.gateway import ConfluenceGateway
from connectors.gateway import GatewayRetryPolicy
from connectors.org import OrgPolicy
from indexer.backends import Stores
from indexer.embedding import HashingEmbedder
from indexer.records import SearchFilters
from indexer.retry import RetryPolicy
from indexer.runner import RunType, SyncRunner
from indexer.settings import ChunkingSettings
from retrieval.identity import IdentityResolver
from tests.emulators.confluence import ConfluenceEmulator

SOURCE = "wiki"
ORG = OrgPolicy(tenant="acme", member_sources=frozenset({SOURCE}))
EMBEDDER = HashingEmbedder(16)


def no_wait(stop: Any, seconds: float) -> bool:
    return bool(stop.is_set())


def connector(
    emulator: ConfluenceEmulator, *, sleeps: list[float] | None = None, **options: Any
) -> ConfluenceConnector:
    recorded = sleeps if sleeps is not None else []
    gateway = ConfluenceGateway(
        emulator.url,
        email=emulator.state.email,
        api_token=emulator.state.api_token,
        policy=GatewayRetryPolicy(attempts=4, sleep=recorded.append, max_total_s=3600),
        page_size=options.pop("page_size", 2),
        restriction_page_size=options.pop("restriction_page_size", 2),
        timeout_s=5,
    )
    return ConfluenceConnector(
        source_id=SOURCE,
        gateway=gateway,
        org=ORG,
        clock=lambda: datetime.now(UTC),
        **options,
    )


def runner(conn: ConfluenceConnector, stores: Stores, **options: Any) -> SyncRunner:
    return SyncRunner(
        conn,
        stores,
        EMBEDDER,
        chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
        model_name="hashing:16",
        clock=lambda: datetime.now(UTC),
        waiter=no_wait,
        retry=RetryPolicy(attempts=2, sleep=lambda _s: None),
        lease_ttl=timedelta(minutes=5),
        **options,
    )


def run(conn: ConfluenceConnector, stores: Stores, run_type: RunType, **options: Any) -> Any:
    record = runner(conn, stores, **options).run(run_type)
    return record


def found(stores: Stores, query: str, email: str) -> set[str]:
    """Titles of what ``email`` finds for ``query`` (identity resolved as retrieval does)."""
    stores.index.refresh()
    principals = IdentityResolver(stores.directory, ORG).resolve(email)
    hits = stores.index.keyword_search(query, principals, SearchFilters(), k=50)
    return {hit.title for hit in hits}
