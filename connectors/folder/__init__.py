"""Local folder connector: text, Markdown, HTML and PDF files with YAML ACL sidecars."""

from connectors.folder.config import FolderSourceConfig
from connectors.folder.connector import FolderConnector, from_config

__all__ = ["FolderConnector", "FolderSourceConfig", "from_config"]
