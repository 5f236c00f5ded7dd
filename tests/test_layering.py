"""The one-way import rule of the architecture: connectors <- indexer <- retrieval; schedules and
permindex on top, with permindex (the composition root) imported by nobody below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "connectors": {"indexer", "retrieval", "schedules", "permindex"},
    "indexer": {"retrieval", "schedules", "permindex"},
    "retrieval": {"connectors", "schedules", "permindex"},
    "schedules": {"retrieval", "permindex"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_lies_below_it(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no sources found for {package}"
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in sorted(imported_packages(path) & FORBIDDEN[package])
    ]
    assert offences == []
