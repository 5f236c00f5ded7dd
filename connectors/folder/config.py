"""Configuration of one folder source, as the composition root reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from connectors.folder.sidecar import DocType
from connectors.registry import SourceSettings


class FolderSourceConfig(SourceSettings):
    type: Literal["folder"] = "folder"
    path: Path
    doc_type: DocType = "file"
    # Documents link to ``<base_url>/<relative path>`` when set, to ``file://`` URLs otherwise.
    base_url: str | None = None
    max_file_bytes: int = Field(default=20_000_000, ge=1)
    # Emit an intermediate checkpoint every N files (0: only at the end of a run).
    checkpoint_every: int = Field(default=5000, ge=0)
