"""What the CLI tests share: one folder source's configuration, and running a command on it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from permindex.cli import app

# A workspace with ``docs/`` beside this file: the embedded index and a model-free embedder.
FOLDER_CONFIG = """
tenant: acme
org:
  domains: [example.com]
index:
  embedded:
    path: index.sqlite
embedding:
  model: "hashing:32"
sources:
  - type: folder
    id: docs
    path: docs
"""

_runner = CliRunner()


def run_cli(
    workspace: Path, *args: str, stdin: str | None = None, columns: int | None = None
) -> Result:
    """``permindex --config WORKSPACE/permindex.yaml ARGS``; an exception other than the
    command's own exit is raised, not hidden in the result. ``columns`` widens the terminal so
    rich does not wrap a table cell across lines."""
    env = {"COLUMNS": str(columns)} if columns is not None else None
    result = _runner.invoke(
        app, ["--config", str(workspace / "permindex.yaml"), *args], input=stdin, env=env
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result
