"""Issue 7 item 17 (paths) and item 14 (where the audit goes): every path of the service section
resolves against the config file's folder, whatever the working directory, so an operator in
another folder never edits or creates a stray keys file and reports success."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from permindex.config import load_config
from retrieval.service.settings import audit_path


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    cwd = tmp_path / "somewhere-else"
    cwd.mkdir()
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        yield cwd
    finally:
        os.chdir(previous)


def write_config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "permindex.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_service_paths_resolve_against_the_config_folder(tmp_path: Path, elsewhere: Path) -> None:
    deploy = tmp_path / "deploy"
    config = load_config(
        write_config(
            deploy,
            "index: {embedded: {path: data/index.sqlite}}\n"
            "service: {keys_file: keys.yaml, audit_file: logs/audit.jsonl}\n",
        )
    )
    assert config.service.keys_file == deploy / "keys.yaml"
    assert config.service.audit_file == deploy / "logs" / "audit.jsonl"
    assert audit_path(config.service, config.index) == deploy / "logs" / "audit.jsonl"


def test_defaults_sit_next_to_the_config_and_the_index(tmp_path: Path, elsewhere: Path) -> None:
    deploy = tmp_path / "deploy"
    config = load_config(write_config(deploy, "index: {embedded: {path: data/index.sqlite}}\n"))
    assert config.service.keys_file == deploy / "permindex-keys.yaml"
    # The audit trail of an embedded deployment lives beside its index file.
    assert audit_path(config.service, config.index) == deploy / "data" / "index-audit.jsonl"

    opensearch = load_config(
        write_config(tmp_path / "os", "index: {opensearch: {url: 'http://127.0.0.1:9200'}}\n")
    )
    assert audit_path(opensearch.service, opensearch.index) == (
        tmp_path / "os" / "permindex-audit.jsonl"
    )


def test_absolute_and_home_paths_are_kept(tmp_path: Path, elsewhere: Path) -> None:
    absolute = tmp_path / "secrets" / "keys.yaml"
    config = load_config(
        write_config(tmp_path / "deploy", f"service: {{keys_file: '{absolute}'}}\n")
    )
    assert config.service.keys_file == absolute
    home = load_config(write_config(tmp_path / "deploy2", "service: {keys_file: '~/keys.yaml'}\n"))
    assert home.service.keys_file == Path("~/keys.yaml").expanduser()
