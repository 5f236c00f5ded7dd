"""The ``permindex`` command line."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="permindex: permission-aware hybrid search over your enterprise sources.",
    no_args_is_help=True,
)


@app.callback()
def main() -> None:
    """permindex command line."""


if __name__ == "__main__":
    app()
