"""Fixtures of the runner tests: a folder source on disk and a runner factory.

``stores`` (both backends) and ``embedder`` (the real model) come from tests/conftest.py; the
stores here are opened for the model's dimension.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.contract import Connector
from connectors.folder import FolderConnector
from connectors.org import OrgPolicy
from indexer.backends import Stores
from indexer.embedding import DEFAULT_MODEL, Embedder
from indexer.retry import RetryPolicy
from indexer.runner import SyncRunner
from indexer.settings import ChunkingSettings

TENANT = "acme"
ORG = OrgPolicy(tenant=TENANT, domains=frozenset({"example.com", "acme.com"}))
SOURCE = "docs"


def utcnow() -> datetime:
    # The backends stamp indexed_at with wall time, so pruning compares against wall time too.
    return datetime.now(UTC)


@pytest.fixture
def dimension(embedder: Embedder) -> int:
    return embedder.dimension


class Tree:
    """A folder source the test edits like a user would."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tick = 1_700_000_000

    def write(self, relpath: str, text: str | bytes) -> None:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        # Distinct mtimes even when a test rewrites a file within one clock tick.
        self._tick += 10
        os.utime(path, (self._tick, self._tick))

    def acl(self, folder: str, allow: list[str], files: dict[str, list[str]] | None = None) -> None:
        lines = [f"allow: [{', '.join(allow)}]"]
        if files:
            lines.append("files:")
            for name, principals in files.items():
                lines.append(f"  {name}:")
                lines.append(f"    allow: [{', '.join(principals)}]")
        (self.root / folder).mkdir(parents=True, exist_ok=True)
        (self.root / folder / ".permindex-acl.yaml").write_text("\n".join(lines) + "\n")

    def remove(self, relpath: str) -> None:
        (self.root / relpath).unlink()

    def move(self, old: str, new: str) -> None:
        target = self.root / new
        target.parent.mkdir(parents=True, exist_ok=True)
        (self.root / old).rename(target)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    root = tmp_path / "source"
    root.mkdir()
    return Tree(root)


@pytest.fixture
def folder(tree: Tree) -> FolderConnector:
    return FolderConnector(source_id=SOURCE, root=tree.root, org=ORG, clock=utcnow)


NO_WAIT = RetryPolicy(attempts=2, sleep=lambda _seconds: None)

MakeRunner = Callable[..., SyncRunner]


@pytest.fixture
def make_runner(stores: Stores, embedder: Embedder, folder: FolderConnector) -> MakeRunner:
    def make(
        connector: Connector | None = None, *, on: Stores | None = None, **kwargs: object
    ) -> SyncRunner:
        options: dict[str, object] = {
            "chunking": ChunkingSettings(chunk_size=64, chunk_overlap=8),
            "model_name": DEFAULT_MODEL,
            "clock": utcnow,
            "retry": NO_WAIT,
            **kwargs,
        }
        return SyncRunner(connector or folder, on or stores, embedder, **options)  # type: ignore[arg-type]

    return make
