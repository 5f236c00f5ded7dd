"""The ``permindex`` command line: wiring only; the operations live in ``schedules.commands``."""

from __future__ import annotations

import json
import signal
import threading
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from indexer.backend import IndexUnavailableError
from indexer.run_types import RunType
from indexer.state_store import LeaseHeldError, RunRecord
from permindex import cli_access, cli_operations, cli_search
from permindex.config import ConfigError, PermindexConfig, load_config
from permindex.demo.command import demo_command
from permindex.runtime import open_runtime
from permindex.sources import configured_connectors
from retrieval.evaluation.command import eval_command
from retrieval.service import cli as service_cli
from schedules import commands

if TYPE_CHECKING:
    from indexer.embedding import Embedder
    from permindex.progress import RichProgressSink

app = typer.Typer(
    help="permindex: permission-aware hybrid search over your enterprise sources.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

out = Console()
err = Console(stderr=True)

# Exit codes an operator's scripts can rely on.
EXIT_RUN_FAILED = 1
EXIT_BAD_CONFIG = 2
EXIT_LEASE_HELD = 3


class _State:
    config_path: Path | None = None


_state = _State()


@app.callback()
def main(
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="YAML configuration (default: $PERMINDEX_CONFIG, else ./permindex.yaml if present).",
        dir_okay=False,
    ),
) -> None:
    """permindex command line."""
    _state.config_path = config


def fail(message: str, code: int) -> NoReturn:
    # soft_wrap: a long path in the message stays on one line, whole, for the operator to copy.
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def get_config() -> PermindexConfig:
    try:
        return load_config(_state.config_path)
    except ConfigError as exc:
        fail(str(exc), EXIT_BAD_CONFIG)


def _serve_metrics(port: int | None) -> None:
    if port is None:
        return
    from prometheus_client import start_http_server

    # Importing the metrics module registers the counters, so a scrape sees them even at zero.
    import indexer.metrics  # noqa: F401

    start_http_server(port, addr="127.0.0.1")
    err.print(f"metrics on http://127.0.0.1:{port}/metrics")


def _sigterm_as_interrupt() -> None:
    # SIGTERM (systemd, docker stop) ends a run the same way Ctrl-C does.
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _sigterm_as_stop() -> threading.Event:
    """The first SIGTERM asks the run to stop after its current batch is durable (checkpoint
    saved, status ``stopped``); a second one interrupts at once, as Ctrl-C does."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    return stop


def _run_summary(record: RunRecord) -> Table:
    table = Table(title=f"{record.run_type} run of {record.source_id}: {record.status}")
    table.add_column("created", justify="right")
    table.add_column("updated", justify="right")
    table.add_column("unchanged", justify="right")
    table.add_column("acl updated", justify="right")
    table.add_column("fields updated", justify="right")
    table.add_column("deleted", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("chunks embedded", justify="right")
    c = record.counts
    table.add_row(
        *(
            str(v)
            for v in (
                c.created,
                c.updated,
                c.unchanged,
                c.acl_updated,
                c.fields_updated,
                c.deleted,
                c.failed,
                c.chunks_embedded,
            )
        )
    )
    return table


def _report(record: RunRecord) -> None:
    out.print(_run_summary(record))
    for error in record.errors[:10]:
        err.print(f"  [yellow]skipped[/] {error.doc_id}: {error.reason}", highlight=False)
    if len(record.errors) > 10:
        err.print(f"  ... and {len(record.errors) - 10} more (see `permindex status`)")
    for name, count in sorted(record.notes.items()):
        err.print(f"  [yellow]note[/] {name}: {count}", highlight=False)
    if record.message:
        style = "red" if record.status != "succeeded" else "yellow"
        err.print(f"[{style}]{record.message}[/]", highlight=False)
    if record.status != "succeeded":
        raise typer.Exit(EXIT_RUN_FAILED)


def _run(source: str, run_type: RunType, *, resync: bool, quiet: bool) -> None:
    from indexer.operations.pause import SourcePausedError
    from permindex.progress import RichProgressSink
    from schedules import commands

    config = get_config()
    try:
        config.source(source)
    except ConfigError as exc:
        fail(str(exc), EXIT_BAD_CONFIG)
    stop = _sigterm_as_stop()

    def operate(runtime: commands.Runtime, sink: RichProgressSink | None) -> RunRecord:
        if resync:
            return commands.resync(runtime, source, progress=sink, stop=stop)
        return commands.sync(runtime, source, run_type, progress=sink, stop=stop)

    try:
        runtime = open_runtime(config)
    except IndexUnavailableError as exc:
        fail(f"the index is unavailable: {exc}", EXIT_RUN_FAILED)
    with runtime:
        try:
            if quiet:
                record = operate(runtime, None)
            else:
                with RichProgressSink(err, source_id=source) as sink:
                    record = operate(runtime, sink)
        except LeaseHeldError as exc:
            fail(
                f"another run of {source!r} is in progress ({exc}); try again when it ends",
                EXIT_LEASE_HELD,
            )
        except SourcePausedError as exc:
            fail(f"{exc}: nothing was run", EXIT_RUN_FAILED)
        except IndexUnavailableError as exc:
            # The index refused the lease or the run record itself (full or read-only disk, node
            # down): nothing ran, the checkpoint is where it was.
            fail(f"the index is unavailable, nothing was run: {exc}", EXIT_RUN_FAILED)
        except KeyboardInterrupt:
            fail("interrupted: the checkpoint stays where the last durable write left it", 130)
    _report(record)


@app.command()
def sync(
    source: str = typer.Argument(..., help="Source id from the configuration."),
    full: bool = typer.Option(False, "--full", help="Read everything, then prune what is gone."),
    permissions: bool = typer.Option(False, "--permissions", help="Refresh ACLs only."),
    groups: bool = typer.Option(False, "--groups", help="Sync group memberships and identities."),
    prune: bool = typer.Option(
        False, "--prune", help="Delete what the source no longer lists (ids only, no content)."
    ),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="Expose Prometheus metrics on this port while running."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Run one sync of SOURCE (incremental unless a flag says otherwise)."""
    chosen = [
        t
        for t, on in (
            (RunType.full, full),
            (RunType.permissions, permissions),
            (RunType.groups, groups),
            (RunType.prune, prune),
        )
        if on
    ]
    if len(chosen) > 1:
        fail("choose at most one of --full, --permissions, --groups, --prune", EXIT_BAD_CONFIG)
    _serve_metrics(metrics_port)
    _run(source, chosen[0] if chosen else RunType.incremental, resync=False, quiet=quiet)


@app.command()
def resync(
    source: str = typer.Argument(..., help="Source id from the configuration."),
    metrics_port: int | None = typer.Option(None, "--metrics-port"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Forget SOURCE's checkpoint and run a full sync."""
    _serve_metrics(metrics_port)
    _run(source, RunType.full, resync=True, quiet=quiet)


def _lag(seconds: float | None) -> str:
    if seconds is None:
        return "never succeeded"
    return str(timedelta(seconds=round(seconds)))


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Last runs per source, lag since the last successful run, errors."""
    from schedules import commands

    config = get_config()
    with open_runtime(config) as runtime:
        report = commands.status(runtime, queue=_queue_view(config))
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    table = Table(title=f"permindex status ({report.backend} index)")
    table.add_column("source", no_wrap=True)
    table.add_column("last run", no_wrap=True)
    table.add_column("lag", no_wrap=True)
    table.add_column("docs/chunks", justify="right", no_wrap=True)
    table.add_column("failed runs / doc errors", justify="right")
    for entry in report.sources:
        last = entry.last_run
        if last is None:
            last_desc = "-"
        else:
            style = {"succeeded": "green", "failed": "red"}.get(last.status, "yellow")
            last_desc = f"{last.run_type} [{style}]{last.status}[/] {last.started_at:%m-%d %H:%M}"
        table.add_row(
            entry.source_id
            + ("" if entry.configured else " (not configured)")
            + (" (paused)" if entry.paused else ""),
            last_desc,
            _lag(entry.lag_seconds),
            f"{_count(entry.documents)}/{_count(entry.chunks)}",
            f"{entry.failed_runs} / {entry.document_errors}",
        )
    out.print(table)
    _print_scopes(report)
    for entry in report.sources:
        if entry.top_errors:
            runs = entry.runs_considered
            out.print(f"[bold]top errors of {entry.source_id}[/] (last {runs} runs)")
            for error in entry.top_errors:
                out.print(f"  {error.count}x {error.reason}", highlight=False, markup=False)


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


@app.command()
def schedule(
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="Expose Prometheus metrics on this port."
    ),
) -> None:
    """Run every source's sync jobs at their configured intervals until interrupted."""
    from indexer.logging import configure_json_logging
    from schedules.jobs import SyncScheduler

    config = get_config()
    if not config.sources:
        fail("no sources configured: nothing to schedule", EXIT_BAD_CONFIG)
    configure_json_logging()
    _serve_metrics(metrics_port)
    _sigterm_as_interrupt()
    with open_runtime(config) as runtime:
        scheduler = SyncScheduler(runtime)
        for source_id, run_type, interval in scheduler.jobs:
            err.print(f"scheduled {run_type.value} sync of {source_id} every {interval}")
        scheduler.run_forever()


# -- scale-out: Celery workers, the leader-elected scheduler, queued runs (schedules/) --------


def _queue_view(config: PermindexConfig) -> commands.QueueView | None:
    if not config.queue.broker_url:
        return None
    from schedules.celery_app import broker_url
    from schedules.queue_state import QueueState

    return QueueState.from_url(broker_url(config.queue), config.queue.queue)


def _print_scopes(report: commands.StatusReport) -> None:
    if report.queue_error:
        err.print(f"[red]{report.queue_error}[/]", highlight=False)
    elif report.queue_depth is not None:
        out.print(f"queue: {report.queue_depth} waiting, {report.queue_unacked} delivered")
    scoped = [
        e for e in report.sources if e.next_runs or any(s.scope or s.queued for s in e.scopes)
    ]
    if not scoped:
        return
    table = Table(title="scopes")
    for column in ("source", "scope", "last run", "lag", "next run", "queued", "last error"):
        table.add_column(column, no_wrap=column != "last error")
    for entry in scoped:
        following = min(entry.next_runs.values(), default=None)
        for scope in entry.scopes:
            last = "-"
            if scope.last_run_at is not None:
                last = f"{scope.last_status} {scope.last_run_at:%m-%d %H:%M}"
            table.add_row(
                entry.source_id,
                scope.scope or "(all)",
                last,
                _lag(scope.lag_seconds),
                "-" if following is None else f"{following:%m-%d %H:%M:%S}",
                ", ".join(scope.queued) or "-",
                scope.last_error or "-",
            )
    out.print(table)


def _queued_embedder(config: PermindexConfig) -> Embedder | None:
    """With ``queue.embedding_queue``: an embedder whose work embedding workers do."""
    if not config.queue.embedding_queue:
        return None
    from permindex.sources import embedding_dimension
    from schedules.celery_app import app as celery_app
    from schedules.embedding_queue import QueuedEmbedder

    return QueuedEmbedder(
        celery_app,
        config.queue.embedding_queue,
        config.embedding.vector_identity,
        embedding_dimension(config.embedding),
        config.queue.embedding_timeout.total_seconds(),
    )


def _configure_queue(config: PermindexConfig) -> None:
    from schedules.celery_app import QueueNotConfiguredError, configure

    try:
        configure(config.queue)
    except (QueueNotConfiguredError, OSError) as exc:
        fail(str(exc), EXIT_BAD_CONFIG)


@app.command()
def worker(
    concurrency: int = typer.Option(1, "--concurrency", min=1, help="Runs at once (prefork)."),
    pool: str = typer.Option(
        "solo",
        "--pool",
        help="solo: one run in this process (scale with processes/replicas); prefork: children.",
    ),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="Expose Prometheus metrics on this port (solo pool)."
    ),
    loglevel: str = typer.Option("INFO", "--loglevel"),
    embedding: bool = typer.Option(
        False,
        "--embedding",
        help="Answer embedding requests (queue.embedding_queue) instead of scope runs: "
        "run this where the GPU is.",
    ),
) -> None:
    """Take scope runs from the queue (queue.broker_url) until stopped (SIGTERM: warm stop)."""
    import os
    import socket

    from indexer.logging import configure_json_logging
    from schedules.celery_app import app as celery_app
    from schedules.celery_app import broker_url
    from schedules.queue_state import QueueState
    from schedules.tasks import WorkerContext, configure_worker

    if pool not in ("solo", "prefork", "threads"):
        fail(f"--pool must be solo, prefork or threads, got {pool!r}", EXIT_BAD_CONFIG)
    config = get_config()
    _configure_queue(config)
    configure_json_logging()
    _serve_metrics(metrics_port)
    url = broker_url(config.queue)
    queues = config.queue.queue
    if embedding:
        from indexer.embedding import make_embedder
        from schedules.embedding_queue import serve_embeddings

        if not config.queue.embedding_queue:
            fail("--embedding needs queue.embedding_queue in the configuration", EXIT_BAD_CONFIG)
        embedder = make_embedder(config.embedding)
        embedder.embed_query("warm up")  # load the model before taking the first request
        serve_embeddings(embedder, config.embedding.vector_identity)
        queues = config.queue.embedding_queue
    else:
        configure_worker(
            WorkerContext(
                runtime_factory=lambda: open_runtime(config, embedder=_queued_embedder(config)),
                settings=config.queue,
                queue_state=lambda: QueueState.from_url(url, config.queue.queue),
            )
        )
    celery_app.worker_main(
        [
            "worker",
            f"--loglevel={loglevel}",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--queues={queues}",
            f"--hostname=permindex-{socket.gethostname()}-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@app.command()
def scheduler(
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="Expose Prometheus metrics on this port."
    ),
) -> None:
    """Enqueue every scope's runs at their intervals while leader (a lease); else stand by."""
    from indexer.logging import configure_json_logging
    from schedules.celery_app import app as celery_app
    from schedules.celery_app import broker_url
    from schedules.queue_state import QueueState
    from schedules.scheduler_service import Enqueuer, QueueScheduler

    config = get_config()
    if not config.sources:
        fail("no sources configured: nothing to schedule", EXIT_BAD_CONFIG)
    _configure_queue(config)
    configure_json_logging()
    _serve_metrics(metrics_port)
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    queue = QueueState.from_url(broker_url(config.queue), config.queue.queue)
    with open_runtime(config) as runtime:
        service = QueueScheduler(runtime, Enqueuer(celery_app, queue, config.queue), stop=stop)
        for source_id, run_type, interval in service.jobs.jobs:
            err.print(f"scheduled {run_type.value} sync of {source_id} every {interval}")
        service.run_forever()


@app.command()
def enqueue(
    source: str = typer.Argument(..., help="Source id from the configuration."),
    full: bool = typer.Option(False, "--full", help="Read everything, then prune what is gone."),
    permissions: bool = typer.Option(False, "--permissions", help="Refresh ACLs only."),
    groups: bool = typer.Option(False, "--groups", help="Sync group memberships and identities."),
    prune: bool = typer.Option(False, "--prune", help="Delete what the source no longer lists."),
) -> None:
    """Queue one run of SOURCE for the workers: one request per scope."""
    from schedules.celery_app import app as celery_app
    from schedules.celery_app import broker_url
    from schedules.queue_state import QueueState
    from schedules.scheduler_service import Enqueuer
    from schedules.work import plan

    flags = ((RunType.full, full), (RunType.permissions, permissions), (RunType.groups, groups))
    chosen = [t for t, on in (*flags, (RunType.prune, prune)) if on]
    if len(chosen) > 1:
        fail("choose at most one of --full, --permissions, --groups, --prune", EXIT_BAD_CONFIG)
    config = get_config()
    try:
        config.source(source)
    except ConfigError as exc:
        fail(str(exc), EXIT_BAD_CONFIG)
    _configure_queue(config)
    queue = QueueState.from_url(broker_url(config.queue), config.queue.queue)
    enqueuer = Enqueuer(celery_app, queue, config.queue)
    with open_runtime(config) as runtime:
        items = plan(runtime, source, chosen[0] if chosen else RunType.incremental)
        for item in items:
            sent = enqueuer.enqueue(item)
            where = item.scope or "(all)"
            out.print(f"{'queued' if sent else 'already queued'}: {item.label} [{where}]")


# Commands that other packages contribute: one registration line each, e.g.
#   app.command("serve")(retrieval.service.cli.serve)
service_cli.register(
    app, get_config, lambda: _queue_view(get_config()), lambda: configured_connectors(get_config())
)  # `permindex serve`, `permindex keys ...`
cli_search.register(app, get_config)  # `permindex search QUERY --user EMAIL`
cli_operations.register(app, get_config)  # `permindex source pause|delete|...`, prune, reindex
cli_access.register(app, get_config)  # `permindex access explain|who`: the access explainer
app.command("eval")(eval_command)  # retrieval/evaluation: golden sets, BEIR, leak checks
app.command("demo")(demo_command)  # permindex/demo: seeded organisation, two users, a revocation


if __name__ == "__main__":
    app()
