from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexer.backends import Stores
from tests.connectors.jira.harness import EMBEDDER, Harness, Site, seed_site
from tests.emulators.jira import JiraEmulator


@pytest.fixture
def backend_kind() -> str:
    """Embedded only here: the connector's events do not depend on the backend, and the
    backends' agreement is the conformance suite's (both backends, this connector's kit)."""
    return "embedded"


@pytest.fixture(scope="module")
def jira_server() -> Iterator[JiraEmulator]:
    with JiraEmulator(seed=10) as emulator:
        yield emulator


@pytest.fixture
def jira(jira_server: JiraEmulator) -> Iterator[JiraEmulator]:
    """The running emulator, back to its seeded state; fails the test on spec violations."""
    jira_server.reset()
    jira_server.page_size = 50
    yield jira_server
    violations = jira_server.take_violations()
    assert violations == [], f"traffic broke the Jira spec: {violations}"


@pytest.fixture
def site(jira: JiraEmulator) -> Site:
    return seed_site(jira)


@pytest.fixture
def dimension() -> int:
    return EMBEDDER.dimension


@pytest.fixture
def harness(jira: JiraEmulator, site: Site, stores: Stores) -> Harness:
    return Harness(jira, stores)
