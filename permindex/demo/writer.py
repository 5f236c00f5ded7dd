"""Write the generated organisation as a folder tree the folder connector reads."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from connectors.folder.directory_file import GROUPS_NAME
from connectors.folder.sidecar import SIDECAR_NAME
from permindex.demo.generator import DemoFile
from permindex.demo.org import AREAS, GROUPS, email


def _member(value: str) -> str:
    return value if value.startswith("group:") else email(value)


def groups_document(groups: dict[str, list[str]] | None = None) -> dict[str, Any]:
    source = GROUPS if groups is None else groups
    return {"groups": {name: [_member(m) for m in members] for name, members in source.items()}}


def write_groups(root: Path, groups: dict[str, list[str]] | None = None) -> None:
    (root / GROUPS_NAME).write_text(yaml.safe_dump(groups_document(groups), sort_keys=False))


def write_sidecar(folder: Path, rule: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SIDECAR_NAME).write_text(yaml.safe_dump(rule, sort_keys=False))


def write_tree(root: Path, files: list[DemoFile]) -> None:
    """Create ``root`` with every file, each area's sidecar and the groups file.

    The root itself allows nobody: a file outside the declared areas stays invisible
    (fail closed) instead of silently becoming company-wide.
    """
    root.mkdir(parents=True, exist_ok=True)
    write_groups(root)
    per_file: dict[str, dict[str, Any]] = defaultdict(dict)
    for demo_file in files:
        if demo_file.allow is not None:
            folder, _, name = demo_file.path.rpartition("/")
            per_file[folder][name] = {"allow": list(demo_file.allow), "inherit": False}
    for area in AREAS:
        rule: dict[str, Any] = {
            "allow": list(area.allow),
            "inherit": area.inherit,
            "doc_type": area.doc_type,
        }
        if per_file.get(area.path):
            rule["files"] = per_file[area.path]
        write_sidecar(root / area.path, rule)
    for demo_file in files:
        path = root / demo_file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(demo_file.text, encoding="utf-8")
        stamp = demo_file.modified.timestamp()
        os.utime(path, (stamp, stamp))
