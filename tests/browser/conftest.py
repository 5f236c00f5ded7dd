"""A deployment for the console tests: a folder source synced into an embedded index through
the CLI's own runtime, and the service built by ``open_service`` exactly as ``permindex serve``
builds it (so the console is reached through ``ROUTERS``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from indexer.run_types import RunType
from permindex.config import PermindexConfig, load_config
from permindex.runtime import open_runtime
from retrieval.service.cli import retrieval_settings
from retrieval.service.keys import Capability, create_key
from retrieval.service.server import OpenService, open_service
from retrieval.service.settings import ServiceSettings
from schedules import commands

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
    id: broken
    path: missing-folder
"""


@dataclass
class Deployment:
    root: Path
    config: PermindexConfig
    keys_file: Path
    admin_key: str
    search_key: str
    opened: OpenService


def _write(root: Path, relpath: str, text: str) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("console")
    docs = root / "docs"
    _write(docs, ".permindex-acl.yaml", "allow: [org]\n")
    _write(docs, ".permindex-groups.yaml", "groups:\n  hr: [hana@acme.com]\n")
    _write(docs, "hr/.permindex-acl.yaml", "allow: [group:hr]\ninherit: false\n")
    _write(docs, "hr/salaries.md", "# Salary bands\n\nBands are reviewed in March.\n")
    _write(docs, "runbook.md", "# Runbook <script>alert(1)</script>\n\nRestart the service.\n")
    (root / "permindex.yaml").write_text(CONFIG)
    config = load_config(root / "permindex.yaml")
    with open_runtime(config) as runtime:
        for run_type in (RunType.groups, RunType.incremental):
            record = commands.sync(runtime, "docs", run_type)
            assert record.status == "succeeded", record
        # A source whose folder is missing: a failed run with an error for the console.
        broken = commands.sync(runtime, "broken", RunType.incremental)
        assert broken.status == "failed", broken
    keys_file = root / "keys.yaml"
    admin_key = create_key(keys_file, "console-admin", {Capability.ADMIN})[1]
    search_key = create_key(keys_file, "app", {Capability.SEARCH})[1]
    opened = open_service(
        index=config.index,
        embedding=config.embedding,
        retrieval=retrieval_settings(config),
        service=ServiceSettings(keys_file=keys_file, port=0),
        source_ids=[source.id for source in config.sources],  # as `permindex serve` passes
    )
    try:
        yield Deployment(root, config, keys_file, admin_key, search_key, opened)
    finally:
        opened.close()


def chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def screenshots() -> Path:
    """Where failing browser tests leave their screenshots (named in the failure)."""
    return Path(tempfile.mkdtemp(prefix="permindex-console-screens-"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    browser = funcargs.get("browser")
    folder = funcargs.get("screenshots")
    if browser is None or folder is None:
        return
    path = Path(folder) / f"{item.name}.png"
    try:
        browser.save_screenshot(os.fspath(path))
        (Path(folder) / f"{item.name}.html").write_text(browser.page_source, encoding="utf-8")
        note = f"screenshot of the failing page: {path} (and its HTML beside it)"
    except Exception as exc:  # the browser may be what failed
        note = f"no screenshot ({exc})"
    report.sections.append(("console screenshot", note))
