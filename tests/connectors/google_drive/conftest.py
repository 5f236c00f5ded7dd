from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexer.backends import Stores
from tests.connectors.google_drive.workspace import EMBEDDER, Workspace, emulators
from tests.emulators.google_directory import DirectoryEmulator
from tests.emulators.google_drive import DriveEmulator


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[DriveEmulator, DirectoryEmulator]]:
    with emulators() as running:
        yield running


@pytest.fixture
def backend_kind() -> str:
    # Most of these tests run on the embedded backend; the few that run on both parametrize
    # ``backend_kind`` themselves (workspace.BOTH_BACKENDS).
    return "embedded"


@pytest.fixture
def dimension() -> int:
    return EMBEDDER.dimension


@pytest.fixture
def workspace(servers: tuple[DriveEmulator, DirectoryEmulator], stores: Stores) -> Workspace:
    drive, directory = servers
    drive.reset()
    directory.reset()
    return Workspace(drive, directory, stores)
