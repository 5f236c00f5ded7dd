"""Reading the connector's YAML files with errors that name the file and the offending key."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_MERGE_TAG = "tag:yaml.org,2002:merge"


class FolderFileError(Exception):
    """A sidecar, groups or identities file that cannot be read or does not validate."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """``SafeLoader`` that rejects a key given twice in one mapping.

    PyYAML keeps the last of two equal keys without a word, so ``allow: [group:hr]`` followed
    further down by ``allow: [org]`` would quietly publish the folder.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                # Keys merged in with ``<<`` may be overridden: that is what merging is for.
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # unhashable: the base class reports it
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r} (first given on line {first.line + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, label: str) -> Any:
    """Parse one YAML document; raise ``FolderFileError`` naming ``label`` if that fails."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise FolderFileError(f"{label}: invalid YAML: {exc}") from exc


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
    return parse_yaml_model(text, model, label, context)


def parse_yaml_model(text: str, model: type[M], label: str, context: dict[str, Any]) -> M:
    """Validate the YAML ``text`` of the file ``label`` into ``model``."""
    data = parse_yaml(text, label)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FolderFileError(f"{label}: expected a mapping at the top level")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise FolderFileError(f"{label}: {describe_validation_error(exc)}") from exc
