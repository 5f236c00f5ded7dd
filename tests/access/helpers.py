"""Running a connector into fresh stores and asking the explainer, for the access tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.contract import Connector
from connectors.folder import FolderConnector
from connectors.org import OrgPolicy
from indexer.backends import Stores
from indexer.embedding import HashingEmbedder
from indexer.retry import RetryPolicy
from indexer.runner import SyncRunner
from indexer.settings import ChunkingSettings
from retrieval.identity import IdentityResolver

ORG = OrgPolicy(
    tenant="acme",
    domains=frozenset({"acme.com"}),
    guests=frozenset({"visitor@acme.com"}),
)
SOURCE = "docs"
DIMENSION = 16
EMBEDDER = HashingEmbedder(DIMENSION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def folder(root: Path, org: OrgPolicy = ORG) -> FolderConnector:
    return FolderConnector(source_id=SOURCE, root=root, org=org, clock=utcnow)


def sync(stores: Stores, connector: Connector, *run_types: str) -> None:
    for run_type in run_types or ("incremental",):
        runner = SyncRunner(
            connector,
            stores,
            EMBEDDER,
            chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
            model_name="hashing",
            clock=utcnow,
            retry=RetryPolicy(attempts=2, sleep=lambda _seconds: None),
        )
        record = runner.run(run_type)
        assert record.status == "succeeded", (record.status, record.message, record.errors)
    stores.index.refresh()


def resolver(stores: Stores, org: OrgPolicy = ORG) -> IdentityResolver:
    return IdentityResolver(stores.directory, org, cache_size=0)


def write(root: Path, relpath: str, text: str) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
