"""A Slack source from configuration, through the registry, as the composition root builds it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from connectors.errors import ConnectorConfigError
from connectors.registry import build_connector, parse_source
from tests.connectors.slack.workspace import ORG
from tests.emulators.slack import SlackEmulator


def test_a_configured_source_reads_the_workspace_with_a_token_from_the_environment(
    slack: SlackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.state.bot_token)
    settings = parse_source(
        {
            "type": "slack",
            "id": "chat",
            "bot_token": {"env": "SLACK_BOT_TOKEN"},
            "base_url": slack.url + "/api/",
            "exclude_channels": ["random"],
        }
    )
    assert slack.state.bot_token not in repr(settings)
    alice = slack.add_user("Alice", "alice@acme.com").id
    slack.add_channel("random", [alice])
    kept = slack.add_channel("eng", [alice])
    slack.post(kept.id, alice, "hello", ts=1_700_000_000)
    connector = build_connector(settings, ORG, lambda: datetime.now(UTC))
    connector.validate()
    listed = [e.external_id for e in connector.list_live_ids() if e.kind == "live"]
    assert listed == [f"{kept.id}/window/1699920000"]


def test_a_refused_token_is_a_configuration_error(slack: SlackEmulator) -> None:
    settings = parse_source(
        {"type": "slack", "id": "chat", "bot_token": "xoxb-wrong", "base_url": slack.url + "/api/"}
    )
    with pytest.raises(ConnectorConfigError, match="invalid_auth"):
        build_connector(settings, ORG, lambda: datetime.now(UTC)).validate()


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        parse_source({"type": "slack", "id": "chat", "bot_token": "x", "archive": "drop"})
