"""A Google Workspace on emulators: Drive and Directory, the connector over the real client,
the real runner and index, and what a user finds in search."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.gateway import GatewayRetryPolicy
from connectors.google_drive import GoogleDriveConnector, GoogleDriveSettings, from_config
from connectors.org import OrgPolicy
from indexer.backends import Stores
from indexer.embedding import HashingEmbedder
from indexer.records import SearchFilters
from indexer.retry import RetryPolicy
from indexer.runner import RunType, SyncRunner
from indexer.settings import ChunkingSettings
from indexer.state_store import RunRecord
from retrieval.identity import IdentityResolver
from tests.conftest import BACKENDS
from tests.emulators.google_directory import DirectoryEmulator
from tests.emulators.google_drive import DriveEmulator, credentials_for

SOURCE = "gdrive"
ADMIN = "admin@acme.com"
ALICE, BOB, CAROL, DAVE = "alice@acme.com", "bob@acme.com", "carol@acme.com", "dave@acme.com"
USERS = (ALICE, BOB, CAROL, DAVE)
ORG = OrgPolicy(tenant="acme", domains=frozenset({"acme.com"}), member_sources=frozenset({SOURCE}))
EMBEDDER = HashingEmbedder(16)
# The permission-critical tests run on both backends; the rest on the embedded one.
BOTH_BACKENDS = pytest.mark.parametrize("backend_kind", BACKENDS)


def now() -> datetime:
    return datetime.now(UTC)


def settings(
    drive: DriveEmulator, directory: DirectoryEmulator, **extra: Any
) -> GoogleDriveSettings:
    return GoogleDriveSettings.model_validate(
        {
            "type": "google_drive",
            "id": SOURCE,
            "auth": {"kind": "service_account", "key": "unused-by-emulators", "admin_email": ADMIN},
            "drive_endpoint": f"{drive.url}/drive/v3/",
            "directory_endpoint": f"{directory.url}/",
            "page_size": 3,  # several pages even on small seeded sources
            **extra,
        }
    )


def fast_policy(seed: int = 0) -> GatewayRetryPolicy:
    # Real jittered backoff, scaled down so a storm of refusals costs milliseconds.
    return GatewayRetryPolicy(
        attempts=8, base_wait_s=0.001, max_backoff_s=0.01, rng=random.Random(seed)
    )


def connector(
    drive: DriveEmulator, directory: DirectoryEmulator, **extra: Any
) -> GoogleDriveConnector:
    return from_config(
        settings(drive, directory, **extra),
        ORG,
        now,
        credentials_for=credentials_for,
        policy=fast_policy(),
    )


def no_wait(stop: Any, seconds: float) -> bool:
    return bool(stop.is_set())


def runner(connector: Any, stores: Stores, **options: Any) -> SyncRunner:
    return SyncRunner(
        connector,
        stores,
        EMBEDDER,
        chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
        model_name="hashing:16",
        clock=now,
        waiter=no_wait,
        retry=RetryPolicy(attempts=2, sleep=lambda _s: None),
        lease_ttl=timedelta(minutes=5),
        **options,
    )


@contextmanager
def emulators(users: tuple[str, ...] = USERS) -> Iterator[tuple[DriveEmulator, DirectoryEmulator]]:
    with (
        DriveEmulator(admin=ADMIN, users=users) as drive,
        DirectoryEmulator(admin=ADMIN, users=users) as directory,
    ):
        yield drive, directory


class Workspace:
    """The emulated tenant, its index and one connector (so a run sees the last checkpoint)."""

    def __init__(self, drive: DriveEmulator, directory: DirectoryEmulator, stores: Stores) -> None:
        self.drive = drive
        self.directory = directory
        self.stores = stores
        self.resolver = IdentityResolver(stores.directory, ORG)

    def connector(self, **extra: Any) -> GoogleDriveConnector:
        return connector(self.drive, self.directory, **extra)

    def run(self, run_type: RunType, **settings: Any) -> RunRecord:
        """One run of a fresh connector (``settings``: GoogleDriveSettings fields)."""
        record = runner(self.connector(**settings), self.stores).run(run_type)
        assert not self.drive.take_violations(), "Drive traffic broke the discovery document"
        assert not self.directory.take_violations(), "Directory traffic broke its document"
        return record

    def found(self, query: str, email: str) -> set[str]:
        """Names of the files ``email`` finds for ``query``."""
        self.stores.index.refresh()
        principals = self.resolver.resolve(email)
        hits = self.stores.index.keyword_search(query, principals, SearchFilters(), k=50)
        return {hit.title for hit in hits}
