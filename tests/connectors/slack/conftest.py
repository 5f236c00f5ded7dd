from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexer.backends import Stores
from tests.conftest import MakeStores
from tests.connectors.slack.workspace import EMBEDDER, Harness
from tests.emulators.slack import SlackEmulator


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackEmulator]:
    with SlackEmulator(seed=12) as emulator:
        yield emulator


@pytest.fixture
def slack(slack_server: SlackEmulator) -> Iterator[SlackEmulator]:
    """The running emulator, back to its seeded state; fails the test on unclaimed violations."""
    slack_server.reset()
    yield slack_server
    violations = slack_server.take_violations()
    assert violations == [], f"traffic broke the Slack spec: {violations}"


@pytest.fixture
def dimension() -> int:
    return EMBEDDER.dimension


@pytest.fixture
def harness(slack: SlackEmulator, make_stores: MakeStores) -> Harness:
    stores: Stores = make_stores(EMBEDDER.dimension)
    stores.index.ensure_schema()
    return Harness(slack, stores)


@pytest.fixture
def backend_kind() -> str:
    # Most Slack tests run on the embedded backend; the few on both parametrize backend_kind.
    return "embedded"
