"""Local folder connector: text, Markdown, HTML and PDF files with YAML ACL sidecars."""

from connectors.folder.config import FolderSourceConfig
from connectors.folder.connector import FolderConnector, from_config
from connectors.registry import SourceType

SOURCE_TYPE = SourceType(
    name="folder",
    settings=FolderSourceConfig,
    build=lambda config, org, clock: from_config(config, org, clock),
)

__all__ = ["SOURCE_TYPE", "FolderConnector", "FolderSourceConfig", "from_config"]
