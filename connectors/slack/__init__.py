"""Slack connector: threads and message windows of the bot's channels, trimmed to their members."""

from connectors.registry import SourceType
from connectors.slack.config import SlackSettings
from connectors.slack.connector import SlackConnector, from_settings

SOURCE_TYPE = SourceType(
    name="slack",
    settings=SlackSettings,
    build=lambda config, org, clock: from_settings(config, org, clock),
)

__all__ = ["SOURCE_TYPE", "SlackConnector", "SlackSettings", "from_settings"]
