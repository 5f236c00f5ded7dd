"""`permindex keys ...` and `permindex serve` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from permindex.cli import app
from retrieval.service.keys import ApiKeyStore, Capability


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    runner = CliRunner()
    keys = tmp_path / "keys.yaml"
    created = runner.invoke(
        app,
        [
            "keys",
            "create",
            "portal",
            "--capability",
            "search",
            "--capability",
            "assert_groups",
            "--keys-file",
            str(keys),
        ],
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    record = ApiKeyStore.from_file(keys).verify(secret)
    assert record is not None and record.name == "portal"
    assert record.capabilities == {Capability.SEARCH, Capability.ASSERT_GROUPS}

    listed = runner.invoke(app, ["keys", "list", "--keys-file", str(keys)])
    assert listed.exit_code == 0 and "portal" in listed.stdout
    assert secret.split("_", 2)[2] not in listed.stdout + keys.read_text()

    duplicate = runner.invoke(app, ["keys", "create", "portal", "--keys-file", str(keys)])
    assert duplicate.exit_code == 2

    revoked = runner.invoke(app, ["keys", "revoke", "portal", "--keys-file", str(keys)])
    assert revoked.exit_code == 0
    assert ApiKeyStore.from_file(keys).verify(secret) is None


def test_serve_refuses_to_start_without_keys(tmp_path: Path) -> None:
    config = tmp_path / "permindex.yaml"
    config.write_text("embedding:\n  model: 'hashing:16'\n")
    result = CliRunner().invoke(
        app, ["-c", str(config), "serve", "--keys-file", str(tmp_path / "none.yaml")]
    )
    assert result.exit_code == 2
    assert "permindex keys create" in result.output
