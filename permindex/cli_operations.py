"""Operator actions on the command line: ``permindex source pause|resume|delete|retention|show``,
``permindex prune SOURCE --dry-run`` and ``permindex reindex``.

The actions live in ``indexer.operations`` (the admin API calls the same code). Destructive ones
ask for confirmation unless ``--yes``; each is recorded in the source's control history (who,
when, what) and, for deletions, as a run record. Registered on the main CLI by one line in
``permindex/cli.py``.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from permindex.config import PermindexConfig

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_LEASE_HELD = 3

out = Console()
err = Console(stderr=True)


def operator() -> str:
    """Who ran the command, as the audit trail records it."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def register(app: typer.Typer, get_config: Callable[[], PermindexConfig]) -> None:
    source_app = typer.Typer(help="Pause, resume, delete a source; set its retention.")
    app.add_typer(source_app, name="source")

    def configured(source: str) -> PermindexConfig:
        from permindex.config import ConfigError

        config = get_config()
        try:
            config.source(source)
        except ConfigError as exc:
            _fail(str(exc), EXIT_BAD_INPUT)
        return config

    @source_app.command("pause")
    def pause_command(
        source: str = typer.Argument(..., help="Source id from the configuration."),
        reason: str = typer.Option("", "--reason", help="Shown by status and sync."),
    ) -> None:
        """Stop scheduling SOURCE (a run in progress finishes); `permindex sync` refuses it."""
        from indexer.operations.pause import pause
        from permindex.runtime import open_runtime

        with open_runtime(configured(source)) as runtime:
            pause(runtime.stores, source, by=operator(), now=runtime.clock(), reason=reason)
        out.print(f"paused {source}")

    @source_app.command("resume")
    def resume_command(source: str = typer.Argument(..., help="Source id.")) -> None:
        """Schedule SOURCE again."""
        from indexer.operations.pause import SourcePausedError, resume
        from permindex.runtime import open_runtime

        with open_runtime(configured(source)) as runtime:
            try:
                resume(runtime.stores, source, by=operator(), now=runtime.clock())
            except SourcePausedError as exc:
                _fail(str(exc), EXIT_FAILED)
        out.print(f"resumed {source}")

    @source_app.command("delete")
    def delete_command(
        source: str = typer.Argument(..., help="Source id (configured or not)."),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    ) -> None:
        """Delete every document, chunk, group and checkpoint of SOURCE; run again to finish a
        delete that was interrupted. The source stays paused afterwards."""
        from indexer.operations.delete_source import delete_source
        from indexer.state_store import LeaseHeldError
        from permindex.runtime import open_runtime

        with open_runtime(get_config()) as runtime:
            stats = runtime.stores.index.stats().sources.get(source)
            count = stats.documents if stats is not None else 0
            if not yes:
                typer.confirm(
                    f"Delete source {source!r}: {count} documents, its groups, identities and"
                    " checkpoints?",
                    abort=True,
                )
            try:
                report = delete_source(runtime.stores, source, by=operator(), clock=runtime.clock)
            except LeaseHeldError as exc:
                _fail(
                    f"a run of {source!r} holds its lease ({exc}); the source is marked for"
                    " deletion and starts no new run: run the delete again when it ends",
                    EXIT_LEASE_HELD,
                )
        finished = " (finished an interrupted delete)" if report.resumed else ""
        out.print(
            f"deleted {source}{finished}: {report.documents_deleted} documents,"
            f" {report.checkpoints_cleared} checkpoint(s), groups and identities"
            + ("" if report.provenance_deleted else "; no ACL provenance store")
        )

    @source_app.command("retention")
    def retention_command(
        source: str = typer.Argument(..., help="Source id."),
        days: int | None = typer.Option(None, "--days", min=1, help="Keep N days of changes."),
        off: bool = typer.Option(False, "--off", help="Keep documents however old."),
        apply_now: bool = typer.Option(False, "--apply", help="Drop expired documents now."),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before --apply."),
    ) -> None:
        """Drop SOURCE's documents not modified for N days (after each run, or now)."""
        from indexer.operations.controls import control_of
        from indexer.operations.retention import apply_retention, expired, set_retention
        from indexer.state_store import LeaseHeldError
        from permindex.runtime import open_runtime

        if days is not None and off:
            _fail("choose --days N or --off", EXIT_BAD_INPUT)
        with open_runtime(configured(source)) as runtime:
            stores, now = runtime.stores, runtime.clock()
            if days is not None or off:
                set_retention(stores, source, None if off else days, by=operator(), now=now)
            current = control_of(stores, source).retention_days
            out.print(f"retention of {source}: {'off' if current is None else f'{current} days'}")
            if not apply_now or current is None:
                return
            due = sum(1 for _ in expired(stores, source, current, now))
            if not yes:
                typer.confirm(
                    f"Delete {due} documents not modified for {current} days?", abort=True
                )
            try:
                report = apply_retention(stores, source, clock=runtime.clock, owner=operator())
            except LeaseHeldError as exc:
                _fail(f"a run of {source!r} is in progress ({exc}); try again", EXIT_LEASE_HELD)
        out.print(f"deleted {report.deleted} documents past the retention")

    @source_app.command("show")
    def show_command(source: str = typer.Argument(..., help="Source id.")) -> None:
        """SOURCE's pause, retention and the operator actions taken on it."""
        from indexer.operations.controls import control_of
        from permindex.runtime import open_runtime

        with open_runtime(get_config()) as runtime:
            control = control_of(runtime.stores, source)
        state = "being deleted" if control.deleting else "paused" if control.paused else "active"
        out.print(f"{source}: {state}" + (f" ({control.reason})" if control.reason else ""))
        days = control.retention_days
        out.print(f"retention: {'off' if days is None else f'{days} days'}")
        for action in control.history:
            out.print(
                f"  {action.at:%Y-%m-%d %H:%M:%S} {action.action} by {action.by} {action.detail}",
                highlight=False,
                markup=False,
            )

    @app.command("prune")
    def prune_command(
        source: str = typer.Argument(..., help="Source id from the configuration."),
        dry_run: bool = typer.Option(False, "--dry-run", help="List, delete nothing."),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
        limit: int = typer.Option(50, "--limit", help="Candidates printed."),
    ) -> None:
        """What a prune of SOURCE deletes and why: documents the source no longer lists, and
        those past the source's retention. Without --dry-run, asks, then prunes."""
        from indexer.operations.pause import SourcePausedError
        from indexer.operations.prune_preview import preview_prune
        from indexer.operations.retention import apply_retention
        from indexer.run_types import RunType
        from indexer.state_store import LeaseHeldError
        from permindex.runtime import open_runtime
        from schedules import commands

        config = configured(source)
        with open_runtime(config) as runtime:
            preview = preview_prune(
                runtime.connector_for(source), runtime.stores, clock=runtime.clock
            )
            table = Table(title=f"prune of {source}{' (dry run)' if dry_run else ''}")
            for column in ("document", "reason"):
                table.add_column(column)
            for candidate in preview.candidates[:limit]:
                table.add_row(candidate.doc_id, candidate.reason)
            out.print(table)
            more = len(preview.candidates) - limit
            if more > 0:
                out.print(f"... and {more} more")
            out.print(preview.message, highlight=False, markup=False)
            for scope, reason in preview.kept_scopes.items():
                out.print(f"  kept scope {scope}: {reason}", highlight=False, markup=False)
            if dry_run or not preview.candidates:
                return
            if not yes:
                typer.confirm(f"Delete these {len(preview.candidates)} documents?", abort=True)
            try:
                record = commands.sync(runtime, source, RunType.prune)
                retained = apply_retention(runtime.stores, source, clock=runtime.clock)
            except SourcePausedError as exc:
                _fail(str(exc), EXIT_FAILED)
            except LeaseHeldError as exc:
                _fail(f"a run of {source!r} is in progress ({exc}); try again", EXIT_LEASE_HELD)
        out.print(
            f"prune {record.status}: {record.counts.deleted} no longer listed,"
            f" {retained.deleted} past the retention"
        )
        if record.status != "succeeded":
            _fail(record.message or record.status, EXIT_FAILED)

    @app.command("reindex")
    def reindex_command(
        reembed: bool = typer.Option(
            False, "--reembed", help="Re-embed every chunk with the configured model."
        ),
        from_dimension: int | None = typer.Option(
            None,
            "--from-dimension",
            min=1,
            help="The current index's vector dimension, when the configured model is new.",
        ),
        resume: bool = typer.Option(
            False, "--resume", help="Carry on with the re-index in progress (after a kill)."
        ),
        abort: bool = typer.Option(
            False, "--abort", help="Drop the re-index in progress; the serving index stays."
        ),
        wait: float = typer.Option(
            600.0, "--wait", min=0.0, help="Seconds to wait for running sync runs' leases."
        ),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    ) -> None:
        """Copy the index into a new one (the configured analyzer, mapping and, with --reembed,
        model) while the old one serves, writes going to both, then swap. Sync runs may go on
        meanwhile."""
        from datetime import UTC, datetime, timedelta

        from indexer.backends import open_stores
        from indexer.operations.reindex import ReindexError, abort_reindex, reindex_status
        from indexer.operations.reindex_embedded import reindex_embedded
        from indexer.operations.reindex_opensearch import reindex_opensearch
        from permindex.sources import embedding_dimension

        config = get_config()
        if resume and abort:
            _fail("--resume and --abort exclude each other", 2)
        embedding = config.embedding if reembed else None
        waiting = timedelta(seconds=wait)
        # The old index is opened at its own dimension; the new one takes the model's.
        stores = open_stores(config.index, from_dimension or embedding_dimension(config.embedding))
        try:
            if abort:
                marker = abort_reindex(stores, wait=waiting)
                if marker is None:
                    out.print("no re-index is in progress")
                else:
                    out.print(f"aborted the re-index into {marker.target}; the old index serves")
                return
            in_progress = reindex_status(stores)
            if in_progress is not None and not resume:
                _fail(
                    f"a re-index into {in_progress.target} is in progress ({in_progress.phase},"
                    f" started {in_progress.started_at:%Y-%m-%d %H:%M} by {in_progress.by}):"
                    " run `permindex reindex --resume` or `permindex reindex --abort`",
                    1,
                )
            if not yes:
                question = (
                    "Resume the re-index in progress?"
                    if resume
                    else "Re-index every document into a new index and swap?"
                )
                typer.confirm(question, abort=True)

            def progress(copied: int) -> None:
                err.print(f"copied {copied} documents", highlight=False)

            try:
                if config.index.opensearch is not None:
                    report = reindex_opensearch(
                        stores,
                        clock=lambda: datetime.now(UTC),
                        settings=config.index.opensearch,
                        embedding=embedding,
                        on_page=progress,
                        resume=resume,
                        wait=waiting,
                    )
                else:
                    report = reindex_embedded(
                        stores, embedding=embedding, on_page=progress, resume=resume, wait=waiting
                    )
            except ReindexError as exc:
                _fail(str(exc), 1)
        finally:
            stores.close()
        out.print(
            f"re-indexed {report.documents} documents ({report.copied_note()})"
            f"; now serving {report.new}"
        )
        if report.failed:
            _fail(f"{len(report.failed)} documents failed to copy: {report.failed[:5]}", 1)


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)
