from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexer.backends import Stores
from tests.conftest import MakeStores
from tests.connectors.confluence.helpers import EMBEDDER
from tests.emulators.confluence import ConfluenceEmulator


@pytest.fixture(params=["embedded"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def confluence_server() -> Iterator[ConfluenceEmulator]:
    with ConfluenceEmulator(seed=9) as emulator:
        yield emulator


@pytest.fixture
def site(confluence_server: ConfluenceEmulator) -> Iterator[ConfluenceEmulator]:
    """The running emulator, back to its seeded state; fails the test on spec violations."""
    confluence_server.reset()
    yield confluence_server
    violations = confluence_server.take_violations()
    assert violations == [], f"traffic broke the Confluence specs: {violations}"


@pytest.fixture
def stores(make_stores: MakeStores) -> Stores:
    opened = make_stores(EMBEDDER.dimension)
    opened.index.ensure_schema()
    return opened
