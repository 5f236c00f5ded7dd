"""The gateway pieces together against the Slack emulator, through the real slack-sdk."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from connectors.errors import ConnectorError, RetryableError
from connectors.gateway.http_errors import error_for_status
from connectors.gateway.policy import GatewayRetryPolicy
from tests.emulators.base import RateLimited
from tests.emulators.slack import SlackEmulator
from tests.gateway.fakes import FakeClock


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emulator:
        yield emulator


def auth_test(client: WebClient) -> SlackResponse:
    """What a Slack gateway does: call the SDK, map its HTTP failures to connector errors."""
    try:
        return client.auth_test()
    except SlackApiError as exc:
        error = error_for_status(exc.response.status_code, exc.response.headers, what="auth.test")
        if isinstance(error, ConnectorError):
            raise error from exc
        raise


@pytest.mark.parametrize(("header", "floor"), [("3", 3.0), ("0.5", 0.5)])
def test_a_429_is_waited_out_once_then_the_call_succeeds(
    slack: SlackEmulator, header: str, floor: float
) -> None:
    # "0.5" is the value slack-sdk's own RateLimitErrorRetryHandler crashes on (int("0.5")).
    slack.reset()
    client = WebClient(token=slack.state.bot_token, base_url=slack.url + "/api/", retry_handlers=[])
    slack.inject("auth.test", RateLimited(retry_after=header, times=2))
    clock = FakeClock()
    policy = GatewayRetryPolicy(clock=clock, sleep=clock.sleep, rng=random.Random(3))
    assert policy.call(auth_test, client)["ok"] is True
    assert len(clock.sleeps) == 2
    assert all(wait >= floor for wait in clock.sleeps)
    assert [call.status for call in slack.calls_of("auth.test")] == [429, 429, 200]


def test_a_source_that_keeps_refusing_ends_with_the_retryable_error(slack: SlackEmulator) -> None:
    slack.reset()
    client = WebClient(token=slack.state.bot_token, base_url=slack.url + "/api/", retry_handlers=[])
    slack.inject("auth.test", RateLimited(retry_after="1", times=None))
    clock = FakeClock()
    policy = GatewayRetryPolicy(attempts=3, clock=clock, sleep=clock.sleep)
    with pytest.raises(RetryableError) as raised:
        policy.call(auth_test, client)
    assert raised.value.retry_after == 1.0
    assert len(slack.calls_of("auth.test")) == 3
