"""Confluence Cloud connector: pages and blog posts with space, ancestor and page restrictions."""

from connectors.confluence.config import ConfluenceSourceConfig
from connectors.confluence.connector import ConfluenceConnector, from_config
from connectors.registry import SourceType

SOURCE_TYPE = SourceType(
    name="confluence",
    settings=ConfluenceSourceConfig,
    build=lambda config, org, clock: from_config(config, org, clock),
)

__all__ = ["SOURCE_TYPE", "ConfluenceConnector", "ConfluenceSourceConfig", "from_config"]
