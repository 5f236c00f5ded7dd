"""Loading the configuration: file discovery, environment overrides and clear errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from connectors.folder import FolderSourceConfig
from permindex.config import ConfigError, load_config


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERMINDEX_CONFIG", raising=False)
    config = load_config()
    assert config.sources == []
    assert config.index.opensearch is None  # embedded index by default


def test_file_sources_and_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    path = write(
        tmp_path / "conf" / "permindex.yaml",
        """
tenant: acme
index:
  embedded:
    path: data/index.sqlite
sources:
  - type: folder
    id: handbook
    path: ../docs
schedules:
  default:
    incremental: 5m
  sources:
    handbook:
      full: 2h
""",
    )
    config = load_config(path)
    source = config.source("handbook")
    assert isinstance(source, FolderSourceConfig)  # the registry picked the type's model
    # Paths in the file are relative to the file, so the config works from any directory.
    assert source.path == tmp_path / "conf" / ".." / "docs"
    assert config.index.embedded.path == tmp_path / "conf" / "data" / "index.sqlite"
    assert config.org_policy.tenant == "acme"  # one tenant for every source and the resolver
    schedule = config.schedules.for_source("handbook")
    assert schedule.incremental == timedelta(minutes=5)
    assert schedule.full == timedelta(hours=2)


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "p.yaml", "tenant: acme\nembedding:\n  batch_size: 8\n")
    monkeypatch.setenv("PERMINDEX_CONFIG", str(path))
    monkeypatch.setenv("PERMINDEX_TENANT", "globex")
    monkeypatch.setenv("PERMINDEX_INDEX__OPENSEARCH__URL", "http://search.internal:9200")
    config = load_config()
    assert config.tenant == "globex"
    assert config.embedding.batch_size == 8  # file value kept where env says nothing
    assert config.index.opensearch is not None
    assert config.index.opensearch.url == "http://search.internal:9200"


def test_error_names_file_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.yaml",
        "sources:\n  - type: folder\n    id: Not Valid\n    path: x\nchunking:\n  chunk_size: 1\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "sources.0.id" in message
    assert "chunking.chunk_size" in message


def test_unknown_keys_are_errors_not_ignored(tmp_path: Path) -> None:
    path = write(tmp_path / "typo.yaml", "tennant: acme\n")
    with pytest.raises(ConfigError, match="tennant"):
        load_config(path)


def test_unknown_source_type(tmp_path: Path) -> None:
    path = write(tmp_path / "t.yaml", "sources:\n  - type: sharepoint\n    id: sp\n")
    with pytest.raises(ConfigError, match=r"sources\.0"):
        load_config(path)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(write(tmp_path / "broken.yaml", "sources: [\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")


def test_duplicate_sources_and_unknown_schedule(tmp_path: Path) -> None:
    dup = "sources:\n" + "  - {type: folder, id: a, path: x}\n" * 2
    with pytest.raises(ConfigError, match="duplicate source id 'a'"):
        load_config(write(tmp_path / "dup.yaml", dup))
    orphan = "schedules:\n  sources:\n    ghost: {incremental: 1m}\n"
    with pytest.raises(ConfigError, match="ghost"):
        load_config(write(tmp_path / "orphan.yaml", orphan))


def test_unknown_source_lookup_lists_known(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path / "c.yaml", "sources:\n  - {type: folder, id: a, path: x}\n")
    )
    with pytest.raises(ConfigError, match=r"unknown source 'b' \(known: a\)"):
        config.source("b")


def test_retrieval_and_service_sections_configure_search_and_serve(tmp_path: Path) -> None:
    path = write(
        tmp_path / "permindex.yaml",
        """
tenant: acme
retrieval: {fusion: rrf, candidate_pool: 50}
service: {port: 8181, max_top_k: 20}
""",
    )
    config = load_config(path)
    assert (config.retrieval.fusion, config.retrieval.candidate_pool) == ("rrf", 50)
    assert (config.service.port, config.service.max_top_k) == (8181, 20)
    with pytest.raises(ConfigError, match="retrieval"):
        load_config(write(tmp_path / "bad.yaml", "retrieval: {fusion: average}\n"))


def test_unknown_source_type_names_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "t.yaml", "sources:\n  - type: sharepoint\n    id: sp\n")
    known = "confluence, folder, google_drive, jira, slack"
    with pytest.raises(ConfigError, match=rf"unknown source type 'sharepoint' \(known: {known}\)"):
        load_config(path)


def test_secrets_come_by_reference_and_never_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = write(tmp_path / "os-password", "s3cr3t-from-file\n")
    body = "index:\n  opensearch:\n    username: admin\n    password: {file: %s}\n"
    config = load_config(write(tmp_path / "f.yaml", body % secret_file))
    password = config.index.opensearch.password if config.index.opensearch else None
    assert password is not None and password.get_secret_value() == "s3cr3t-from-file"
    assert "s3cr3t" not in repr(config) and "s3cr3t" not in config.model_dump_json()

    monkeypatch.setenv("OS_PASSWORD", "s3cr3t-from-env")
    env = load_config(write(tmp_path / "e.yaml", body.replace("{file: %s}", "{env: OS_PASSWORD}")))
    assert env.index.opensearch is not None and env.index.opensearch.password is not None
    assert env.index.opensearch.password.get_secret_value() == "s3cr3t-from-env"

    monkeypatch.delenv("OS_PASSWORD")
    with pytest.raises(ConfigError, match="OS_PASSWORD") as missing:
        load_config(write(tmp_path / "m.yaml", body.replace("{file: %s}", "{env: OS_PASSWORD}")))
    assert "s3cr3t" not in str(missing.value)
