"""Reading the connector's YAML files with errors that name the file and the offending key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class FolderFileError(Exception):
    """A sidecar, groups or identities file that cannot be read or does not validate."""


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{location}: {message}")
    return "; ".join(parts)


def load_yaml_model(path: Path, model: type[M], label: str, context: dict[str, Any]) -> M:
    """Parse ``path`` into ``model``; raise ``FolderFileError`` naming ``label`` if that fails."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FolderFileError(f"{label}: cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FolderFileError(f"{label}: invalid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FolderFileError(f"{label}: expected a mapping at the top level")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise FolderFileError(f"{label}: {describe_validation_error(exc)}") from exc
