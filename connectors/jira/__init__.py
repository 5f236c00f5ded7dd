"""Jira Cloud connector: issues with browse permissions intersected with issue security levels."""

from connectors.jira.config import JiraSourceConfig
from connectors.jira.connector import JiraConnector
from connectors.jira.factory import from_config
from connectors.registry import SourceType

SOURCE_TYPE = SourceType(
    name="jira",
    settings=JiraSourceConfig,
    build=lambda config, org, clock: from_config(config, org, clock),
)

__all__ = ["SOURCE_TYPE", "JiraConnector", "JiraSourceConfig", "from_config"]
