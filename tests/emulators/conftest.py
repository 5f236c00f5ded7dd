from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from tests.emulators.slack import SlackEmulator


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackEmulator]:
    with SlackEmulator(seed=8) as emulator:
        yield emulator


@pytest.fixture
def slack(slack_server: SlackEmulator) -> Iterator[SlackEmulator]:
    """The running emulator, back to its seeded state; fails the test on unclaimed violations."""
    slack_server.reset()
    yield slack_server
    violations = slack_server.take_violations()
    assert violations == [], f"traffic broke the Slack spec: {violations}"


@pytest.fixture
def slack_client(slack: SlackEmulator) -> WebClient:
    # No SDK retries: a fault must reach the test (and the gateway) exactly as the server sent it.
    return WebClient(
        token=slack.state.bot_token, base_url=slack.url + "/api/", retry_handlers=[], timeout=5
    )
