"""Slack's answers mapped to what the runner does about them, through the real slack-sdk."""

from __future__ import annotations

import pytest

from connectors.errors import RetryableError, SourceUnavailableError
from connectors.gateway import GatewayRetryPolicy, RequestRejected
from connectors.slack.gateway import (
    ChannelGone,
    FileGone,
    FileTooLarge,
    SlackGateway,
    SlackRequestFailed,
    ThreadGone,
)
from tests.emulators.base import RateLimited, ServerError
from tests.emulators.slack import SlackEmulator


def gateway(slack: SlackEmulator, waits: list[float], attempts: int = 6) -> SlackGateway:
    policy = GatewayRetryPolicy(sleep=waits.append, attempts=attempts, retry_after_jitter_s=0)
    return SlackGateway(slack.state.bot_token, base_url=slack.url + "/api/", policy=policy)


def test_a_decimal_retry_after_is_honoured_and_the_call_succeeds(slack: SlackEmulator) -> None:
    # slack-sdk's own handler crashes on int("0.5"); the shared policy waits 0.5 s.
    waits: list[float] = []
    slack.inject("auth.test", RateLimited(retry_after="0.5", times=2))
    assert gateway(slack, waits).call("auth.test")["ok"] is True
    assert waits == [0.5, 0.5]


def test_refusals_past_the_attempts_reach_the_runner_as_retryable(slack: SlackEmulator) -> None:
    slack.inject("conversations.list", ServerError(status=503, times=None))
    with pytest.raises(RetryableError):
        gateway(slack, [], attempts=2).call("conversations.list")
    slack.clear_faults()
    slack.inject("conversations.list", RateLimited(retry_after="7", times=None))
    with pytest.raises(RetryableError) as limited:
        gateway(slack, [], attempts=2).call("conversations.list")
    assert limited.value.retry_after == 7.0


def test_slack_error_codes_map_to_connector_errors(slack: SlackEmulator) -> None:
    api = gateway(slack, [])
    with pytest.raises(ChannelGone):
        api.call("conversations.history", channel="C99999999")
    alice = slack.add_user("Alice", "alice@acme.com").id
    channel = slack.add_channel("eng", [alice])
    with pytest.raises(ThreadGone):
        api.call("conversations.replies", channel=channel.id, ts="1600000000.000000")
    with pytest.raises(SlackRequestFailed) as failed:
        api.call("users.info", user="U99999999")
    assert failed.value.code == "user_not_found"
    slack.revoke_auth_after(0)
    with pytest.raises(SourceUnavailableError, match="invalid_auth"):
        api.call("conversations.list")


def test_the_bot_token_is_sent_only_to_slack_hosts(slack: SlackEmulator) -> None:
    api = gateway(slack, [])
    for url in ("https://attacker.example/files-pri/T1-F1/x.txt", "http://files.slack.com/x"):
        with pytest.raises(RequestRejected, match="refused to send the token"):
            api.download(url, 1_000)
    assert slack.calls_of("files.download") == []


def test_file_downloads_map_gone_limits_and_failures(slack: SlackEmulator) -> None:
    api = gateway(slack, [], attempts=2)
    alice = slack.add_user("Alice", "alice@acme.com").id
    channel = slack.add_channel("eng", [alice])
    file = slack.share_file(channel.id, alice, "a.txt", b"0123456789", 1_700_000_000.0)
    url = f"{slack.url}/files-pri/{slack.state.team_id}-{file.id}/a.txt"
    assert api.download(url, 10) == b"0123456789"
    with pytest.raises(FileTooLarge):
        api.download(url, 9)
    file.fail_status = 503
    with pytest.raises(RetryableError):
        api.download(url, 10)
    file.fail_status = None
    slack.delete_file(file.id)
    with pytest.raises(FileGone):
        api.download(url, 10)
