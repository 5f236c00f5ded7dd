"""``permindex eval``: run a golden set or a BEIR directory through search modes and gate on it.

Exit codes: 0 fine; 3 an ACL leak (a must-never-receive document came back); 4 a quality
regression against ``--baseline`` beyond ``--tolerance``; 2 unusable input.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from indexer.backends import Stores, open_stores
from indexer.embedding import Embedder, make_embedder
from indexer.principals import OrgPolicy
from indexer.settings import EmbeddedSettings, EmbeddingSettings, IndexSettings, OpenSearchSettings
from retrieval.audit import AuditRecord
from retrieval.evaluation.baseline import compare, load_baseline
from retrieval.evaluation.beir import load_beir_eval_set
from retrieval.evaluation.dataset import EvalSet
from retrieval.evaluation.golden import EvalSetError, load_golden_set
from retrieval.evaluation.harness import Evaluator
from retrieval.evaluation.ingest import IngestStats, ingest_beir
from retrieval.evaluation.metrics import MEASURES
from retrieval.evaluation.modes import ModeSpec, parse_mode
from retrieval.evaluation.report import EvalReport, ModeResult
from retrieval.identity import IdentityResolver
from retrieval.searcher import Searcher
from retrieval.settings import RetrievalSettings

EXIT_BAD_INPUT = 2
EXIT_LEAK = 3
EXIT_REGRESSION = 4
DEFAULT_MODES = ["keyword", "vector", "hybrid-minmax", "hybrid-rrf"]
BEIR_TENANT = "beir"
BEIR_USER = "evaluator@beir.invalid"


def beir_source_id(root: Path) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", root.name.lower()).strip("-") or "corpus"
    return f"beir-{slug}"[:63]


def open_index(
    index: Path | None, backend: str | None, index_prefix: str, dimension: int
) -> tuple[Stores, str, str]:
    if backend:
        settings = IndexSettings(
            opensearch=OpenSearchSettings(url=backend, index_prefix=index_prefix)
        )
        return open_stores(settings, dimension), "opensearch", f"{backend} ({index_prefix})"
    path = index or Path("permindex.sqlite")
    settings = IndexSettings(embedded=EmbeddedSettings(path=path))
    return open_stores(settings, dimension), "embedded", str(path)


def eval_command(
    golden: Path | None = typer.Option(None, help="Golden set (YAML or JSON) to run."),
    beir: Path | None = typer.Option(
        None, help="BEIR directory (corpus.jsonl, queries, qrels); indexed first, read in place."
    ),
    split: str = typer.Option("test", help="BEIR split: picks queries_<split>/qrels_<split>."),
    mode: list[str] = typer.Option(
        DEFAULT_MODES,
        "--mode",
        help="keyword, vector, hybrid, hybrid-rrf, hybrid-minmax; +rerank. Repeat for several.",
    ),
    index: Path | None = typer.Option(
        None, help="Embedded index file (default permindex.sqlite; for BEIR reused across runs)."
    ),
    backend: str | None = typer.Option(
        None, help="OpenSearch URL; the embedded index is used when absent."
    ),
    index_prefix: str = typer.Option(
        "permindex", help="OpenSearch index prefix (BEIR runs default to permindex-<source>)."
    ),
    model: str = typer.Option("all-MiniLM-L6-v2", help="Embedding model name or path."),
    tenant: str = typer.Option("default", help="Tenant of a golden set's users (org:<tenant>)."),
    org_domain: list[str] = typer.Option(
        [], help="A verified domain of the tenant: its addresses get org:<tenant>. Repeatable."
    ),
    keyword_weight: float = typer.Option(0.5, help="Weight of the keyword leg in min-max fusion."),
    candidate_pool: int = typer.Option(100, help="Chunks fetched per leg before fusion."),
    rerank_model: str | None = typer.Option(None, help="CrossEncoder for the +rerank modes."),
    limit: int | None = typer.Option(None, help="Run only the first N queries."),
    skip_ingest: bool = typer.Option(
        False, help="BEIR: trust an already built index and index nothing."
    ),
    batch_size: int = typer.Option(256, help="BEIR ingestion: documents per embedding batch."),
    vector_cache: Path | None = typer.Option(
        None,
        help="BEIR: .npz of corpus vectors shared across backends "
        "(default var/eval/<source>.vectors.npz; 'none' to disable).",
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Write the report as JSON."),
    markdown_out: Path | None = typer.Option(None, "--markdown", help="Write it as Markdown."),
    baseline: Path | None = typer.Option(None, help="Baseline report (JSON) to compare with."),
    tolerance: float = typer.Option(0.01, help="Allowed absolute drop of any metric."),
) -> None:
    """Evaluate search quality, latency and ACL leaks; exit non-zero on leaks or regressions."""
    console = Console()
    if (golden is None) == (beir is None):
        _bad_input("give exactly one of --golden or --beir")
    try:
        specs = [parse_mode(name) for name in mode]
        if golden is not None:
            evalset = load_golden_set(golden)
        else:
            assert beir is not None
            evalset = load_beir_eval_set(beir, split)
    except (ValueError, EvalSetError) as exc:
        _bad_input(str(exc))
    if limit is not None:
        evalset = evalset.model_copy(update={"cases": evalset.cases[:limit]})
    source_id = beir_source_id(beir) if beir is not None else None
    if beir is not None and index_prefix == "permindex":
        index_prefix = f"permindex-{source_id}"
    if beir is not None and index is None and not backend:
        index = Path("var") / "eval" / f"{source_id}.sqlite"
        index.parent.mkdir(parents=True, exist_ok=True)

    embedder = make_embedder(EmbeddingSettings(model=model))
    stores, backend_name, where = open_index(index, backend, index_prefix, embedder.dimension)
    try:
        ingest: IngestStats | None = None
        if beir is not None and not skip_ingest:
            cache = vector_cache or Path("var") / "eval" / f"{source_id}.vectors.npz"
            ingest = _ingest(
                console, stores, embedder, beir, source_id or "", model, batch_size,
                None if str(cache) == "none" else cache,
            )  # fmt: skip
        org = OrgPolicy(tenant=tenant, domains=frozenset(org_domain))
        settings = RetrievalSettings(
            org=OrgPolicy(tenant=BEIR_TENANT) if beir is not None else org,
            keyword_weight=keyword_weight,
            candidate_pool=candidate_pool,
            rerank_model=rerank_model,
        )
        searcher = Searcher(stores.index, embedder, settings, audit=_NullAudit())
        if beir is not None:
            principals = frozenset({f"org:{BEIR_TENANT}", f"user:{BEIR_USER}"})
            evaluator = Evaluator(
                searcher, lambda _user: principals, default_email=BEIR_USER,
                beir_source_id=source_id,
            )  # fmt: skip
        else:
            resolver = IdentityResolver(stores.directory, org)
            evaluator = Evaluator(searcher, lambda user: _resolve(resolver, user))
        report = EvalReport(
            dataset=evalset.name,
            backend=backend_name,
            index=where,
            settings={
                "model": model,
                "keyword_weight": str(keyword_weight),
                "candidate_pool": str(candidate_pool),
                "rerank_model": rerank_model or "none",
                "queries": str(len(evalset.cases)),
            },
            ingest=ingest.as_floats() if ingest else None,
        )
        for spec in specs:
            report.modes[spec.name] = _run_mode(console, evaluator, evalset, spec)
    finally:
        stores.close()

    _print(console, report)
    report.write(json_out, markdown_out)
    if report.leaks:
        console.print(f"[bold red]FAILED: {len(report.leaks)} ACL leak(s)[/]")
        for leak in report.leaks:
            console.print(
                f"  case {leak.case_id} user {leak.user} mode {leak.mode}: "
                f"{leak.doc_id} at rank {leak.rank}"
            )
        raise typer.Exit(EXIT_LEAK)
    if baseline is not None:
        try:
            regressions = compare(report, load_baseline(baseline), tolerance)
        except EvalSetError as exc:
            _bad_input(str(exc))
        if regressions:
            console.print(f"[bold red]FAILED: {len(regressions)} regression(s) vs {baseline}[/]")
            for regression in regressions:
                console.print("  " + regression.describe())
            raise typer.Exit(EXIT_REGRESSION)
        console.print(f"No regression against {baseline} (tolerance {tolerance}).")


def _bad_input(message: str) -> NoReturn:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _resolve(resolver: IdentityResolver, user: str | None) -> frozenset[str]:
    if user is None:
        raise EvalSetError("golden case without a user (set 'user' or 'default_user')")
    return resolver.resolve(user)


class _NullAudit:
    """Evaluation queries are not user activity: keep them out of the audit log."""

    def record(self, record: AuditRecord) -> None:
        return None


def _ingest(
    console: Console,
    stores: Stores,
    embedder: Embedder,
    root: Path,
    source_id: str,
    model: str,
    batch_size: int,
    vector_cache: Path | None,
) -> IngestStats:
    with Progress(
        TextColumn("indexing {task.description}"),
        BarColumn(),
        TextColumn("{task.completed} docs, {task.fields[embedded]} embedded"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(root.name, total=None, embedded=0)
        stats = ingest_beir(
            stores.index,
            embedder,
            root,
            source_id=source_id,
            tenant=BEIR_TENANT,
            model_name=model,
            batch_size=batch_size,
            vector_cache=vector_cache,
            on_progress=lambda s: progress.update(task, completed=s.documents, embedded=s.embedded),
        )
    console.print(
        f"Indexed {root.name}: {stats.documents} documents, {stats.embedded} embedded, "
        f"{stats.unchanged} reused, {stats.failed} failed in {stats.seconds:.1f} s"
    )
    return stats


def _run_mode(
    console: Console, evaluator: Evaluator, evalset: EvalSet, spec: ModeSpec
) -> ModeResult:
    with Progress(
        TextColumn(f"mode {spec.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(spec.name, total=len(evalset.cases))
        return evaluator.run(
            evalset, spec, on_progress=lambda done, _total: progress.update(task, completed=done)
        )


def _print(console: Console, report: EvalReport) -> None:
    table = Table(title=f"{report.dataset} on {report.backend}")
    table.add_column("mode")
    for name in MEASURES:
        table.add_column(name, justify="right")
    for column in ("p50 ms", "p95 ms", "leaks"):
        table.add_column(column, justify="right")
    for result in report.modes.values():
        table.add_row(
            result.mode,
            *(f"{result.metrics.get(n, 0.0):.4f}" for n in MEASURES),
            f"{result.latency_ms['p50']:.1f}",
            f"{result.latency_ms['p95']:.1f}",
            str(len(result.leaks)),
        )
    console.print(table)
    best = report.best_mode()
    if best:
        console.print(f"Best nDCG@10: [bold]{best}[/]")
