"""A deployment for the console's operator actions: three folder sources synced into an
embedded index, served by ``open_service`` with the configured sources' connectors as
``permindex serve`` passes them. ``docs`` keeps its files (pause and resume), ``wiki`` lost
one file after its sync (a prune would delete it), ``scratch`` is the one deleted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from indexer.run_types import RunType
from permindex.config import load_config
from permindex.runtime import open_runtime
from permindex.sources import configured_connectors
from retrieval.service.cli import retrieval_settings
from retrieval.service.keys import Capability, create_key
from retrieval.service.server import open_service
from retrieval.service.settings import ServiceSettings
from schedules import commands
from tests.browser.conftest import Deployment

CONFIG = """
tenant: acme
org:
  domains: [acme.com]
index:
  embedded:
    path: index.sqlite
embedding:
  model: "hashing:32"
sources:
  - type: folder
    id: docs
    path: docs
  - type: folder
    id: wiki
    path: wiki
  - type: folder
    id: scratch
    path: scratch
"""


def _write(root: Path, relpath: str, text: str) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def actions_deployment(root: Path) -> Iterator[Deployment]:
    for folder in ("docs", "wiki", "scratch"):
        _write(root, f"{folder}/.permindex-acl.yaml", "allow: [org]\n")
    _write(root, "docs/runbook.md", "# Runbook\n\nRestart the service.\n")
    _write(root, "wiki/kept.md", "# Kept page\n\nStill here.\n")
    _write(root, "wiki/old <b>page</b>.md", "# Old page\n\nRemoved from the wiki.\n")
    _write(root, "scratch/notes.md", "# Scratch notes\n\nThrowaway quokka notes.\n")
    _write(root, "scratch/more.md", "# More scratch\n\nMore quokka notes.\n")
    (root / "permindex.yaml").write_text(CONFIG)
    config = load_config(root / "permindex.yaml")
    with open_runtime(config) as runtime:
        for source in ("docs", "wiki", "scratch"):
            record = commands.sync(runtime, source, RunType.incremental)
            assert record.status == "succeeded", record
    (root / "wiki" / "old <b>page</b>.md").unlink()
    keys_file = root / "keys.yaml"
    admin_key = create_key(keys_file, "console-admin", {Capability.ADMIN})[1]
    search_key = create_key(keys_file, "app", {Capability.SEARCH})[1]
    opened = open_service(
        index=config.index,
        embedding=config.embedding,
        retrieval=retrieval_settings(config),
        service=ServiceSettings(keys_file=keys_file, port=0),
        source_ids=[source.id for source in config.sources],
        connector_for=configured_connectors(config),
    )
    try:
        yield Deployment(root, config, keys_file, admin_key, search_key, opened)
    finally:
        opened.close()
