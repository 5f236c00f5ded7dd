"""``permindex demo``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

import typer

from permindex.demo.flow import run_demo


def demo_command(
    workdir: Path | None = typer.Option(
        None, "--dir", help="Where to build the organisation and its index (default: a temp dir)."
    ),
    size: str = typer.Option("full", help="full (~300 documents) or small (~80, for smoke tests)."),
    seed: int = typer.Option(7, help="Generator seed: same seed, same organisation."),
    model: str = typer.Option(
        "all-MiniLM-L6-v2", help="Embedding model (name or path); the packaged MiniLM by default."
    ),
) -> None:
    """Build a small organisation, index it, and show permission-trimmed search for two people."""
    if size not in ("full", "small"):
        raise typer.BadParameter("size must be 'full' or 'small'", param_hint="--size")
    chosen: Literal["full", "small"] = "full" if size == "full" else "small"
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="permindex-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    run_demo(workdir, size=chosen, seed=seed, model=model)
