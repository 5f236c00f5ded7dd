"""The demo: build the organisation, index it, search as two people, revoke, delete, sync, search.

Everything runs for real: the folder connector reads the tree, ``SyncRunner`` chunks and embeds
it with the packaged MiniLM model into the embedded SQLite index, and every search goes through
``Searcher`` with principals from ``IdentityResolver`` (the synced groups, nested ones expanded).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from connectors.folder import FolderConnector
from indexer.backends import Stores, open_stores
from indexer.embedding import Embedder, make_embedder
from indexer.runner import RunType, SyncRunner
from indexer.settings import ChunkingSettings, EmbeddedSettings, EmbeddingSettings, IndexSettings
from indexer.state_store import RunRecord
from permindex.demo import generator
from permindex.demo.generator import Size
from permindex.demo.golden import write_golden_set
from permindex.demo.org import ALICE, BOB, DOMAIN, ORG, SOURCE_ID, TENANT, Person
from permindex.demo.writer import write_sidecar, write_tree
from retrieval.identity import IdentityResolver
from retrieval.models import SearchQuery, SearchResult
from retrieval.searcher import Searcher
from retrieval.settings import RetrievalSettings

QUERIES = [
    "salary bands for senior engineers",
    "leaked API key incident",
    "platform team reorganisation plan",
]
# The query shown again after the revocation and the deletion.
AFTER_QUERY = QUERIES[1]
BASE_URL = "https://intranet.northwind.example"
TOP_K = 5


@dataclass
class DemoOutcome:
    """What the demo showed, for tests and for the summary: doc ids per (user, query)."""

    root: Path
    index_path: Path
    documents: int
    before: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    after: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    runs: list[RunRecord] = field(default_factory=list)
    revoked_doc: str = ""
    deleted_doc: str = ""
    seconds: float = 0.0


def doc_id(path: str) -> str:
    return f"{SOURCE_ID}:{path}"


class Demo:
    def __init__(
        self,
        workdir: Path,
        *,
        size: Size = "full",
        seed: int = 7,
        model: str = "all-MiniLM-L6-v2",
        console: Console | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.workdir = workdir
        self.root = workdir / "northwind"
        self.index_path = workdir / "demo-index.sqlite"
        self.size: Size = size
        self.seed = seed
        self.embedding = EmbeddingSettings(model=model)
        self.console = console or Console()
        self.clock = clock
        self.golden_path = workdir / "northwind-golden.yaml"

    def run(self) -> DemoOutcome:
        started = time.perf_counter()
        c = self.console
        c.rule("[bold]permindex demo: Northwind Labs")
        files = self._build_tree()
        self.golden_path = write_golden_set(self.workdir / "northwind-golden.yaml", files)
        outcome = DemoOutcome(root=self.root, index_path=self.index_path, documents=len(files))
        with c.status("Loading the embedding model (all-MiniLM-L6-v2, packaged, offline)..."):
            embedder = make_embedder(self.embedding)
            dimension = embedder.dimension
        stores = open_stores(
            IndexSettings(embedded=EmbeddedSettings(path=self.index_path)), dimension
        )
        try:
            runner = self._runner(stores, embedder)
            outcome.runs += [self._sync(runner, RunType.groups), self._sync(runner, RunType.full)]
            searcher = Searcher(stores.index, embedder, RetrievalSettings(org=ORG))
            resolver = IdentityResolver(stores.directory, ORG)
            self._who(resolver)
            for query in QUERIES:
                outcome.before.update(self._compare(searcher, resolver, query))
            outcome.revoked_doc = doc_id(generator.KEY_INCIDENT)
            outcome.deleted_doc = doc_id(generator.ROTATION_RUNBOOK)
            self._change_sources()
            outcome.runs.append(self._sync(runner, RunType.incremental))
            c.rule(f"[bold]After the sync: {AFTER_QUERY!r}")
            outcome.after.update(
                self._compare(searcher, resolver, AFTER_QUERY, gone={
                    outcome.revoked_doc, outcome.deleted_doc
                }, before=outcome.before)
            )  # fmt: skip
        finally:
            stores.close()
        outcome.seconds = time.perf_counter() - started
        c.print(
            f"\nDemo finished in {outcome.seconds:.0f} s. The tree is in [bold]{self.root}[/], "
            f"the index in [bold]{self.index_path}[/].\nCheck quality and leaks with: "
            f"permindex eval --golden {self.golden_path} --index {self.index_path} "
            f"--tenant {TENANT} --org-domain {DOMAIN}"
        )
        return outcome

    # -- steps ----------------------------------------------------------------------------

    def _build_tree(self) -> list[generator.DemoFile]:
        if self.root.exists():
            shutil.rmtree(self.root)  # a rerun starts from the pristine organisation
        if self.index_path.exists():
            self.index_path.unlink()
        files = generator.generate(self.size, self.seed)
        write_tree(self.root, files)
        areas: dict[str, int] = {}
        for f in files:
            areas[f.path.split("/", 1)[0]] = areas.get(f.path.split("/", 1)[0], 0) + 1
        summary = ", ".join(f"{n} {area}" for area, n in sorted(areas.items()))
        self.console.print(
            f"Generated {len(files)} documents (seed {self.seed}) in {self.root}: {summary}.\n"
            "Access comes from .permindex-acl.yaml sidecars per folder and nested groups in "
            ".permindex-groups.yaml (HR, security, leadership areas are restricted)."
        )
        return files

    def _runner(self, stores: Stores, embedder: Embedder) -> SyncRunner:
        connector = FolderConnector(
            source_id=SOURCE_ID,
            root=self.root,
            org=ORG,
            clock=self.clock,
            base_url=BASE_URL,
        )
        return SyncRunner(
            connector,
            stores,
            embedder,
            chunking=ChunkingSettings(),
            model_name=self.embedding.vector_identity,
            clock=self.clock,
        )

    def _sync(self, runner: SyncRunner, run_type: RunType) -> RunRecord:
        with self.console.status(f"Sync ({run_type.value})..."):
            started = time.perf_counter()
            record = runner.run(run_type)
        counts = record.counts
        self.console.print(
            f"[bold]sync {run_type.value}[/]: {record.status} in "
            f"{time.perf_counter() - started:.1f} s: {counts.created} created, "
            f"{counts.updated} updated, {counts.unchanged} unchanged, "
            f"{counts.acl_updated} ACL-updated, {counts.deleted} deleted, {counts.failed} failed, "
            f"{counts.chunks_embedded} chunks embedded"
        )
        if record.status != "succeeded":
            raise RuntimeError(f"demo sync {run_type.value} {record.status}: {record.message}")
        return record

    def _who(self, resolver: IdentityResolver) -> None:
        for person in (ALICE, BOB):
            groups = sorted(
                p.rsplit(":", 1)[-1]
                for p in resolver.resolve(person.email)
                if p.startswith("group:")
            )
            self.console.print(
                f"[bold]{person.name}[/] ({person.role}) belongs to: {', '.join(groups)}"
            )

    def _compare(
        self,
        searcher: Searcher,
        resolver: IdentityResolver,
        query: str,
        *,
        gone: set[str] | None = None,
        before: dict[tuple[str, str], list[str]] | None = None,
    ) -> dict[tuple[str, str], list[str]]:
        shown: dict[tuple[str, str], list[str]] = {}
        table = Table(title=f"Query: {query!r}", show_lines=True, expand=True)
        columns: list[list[SearchResult]] = []
        for person in (ALICE, BOB):
            table.add_column(f"{person.name} ({person.role})", ratio=1, overflow="fold")
            response = searcher.search(
                resolver.resolve(person.email),
                SearchQuery(query=query, mode="hybrid", top_k=TOP_K),
                caller=person.email,
                service="permindex-demo",
            )
            columns.append(response.results)
            shown[(person.email, query)] = [r.doc_id for r in response.results]
        for rank in range(max((len(col) for col in columns), default=0)):
            table.add_row(*(_cell(col, rank) for col in columns))
        if gone and before:
            for person in (ALICE, BOB):
                vanished = [
                    d
                    for d in before.get((person.email, query), [])
                    if d in gone and d not in shown[(person.email, query)]
                ]
                for d in vanished:
                    table.caption = (table.caption or "") + f"\n{person.first}: {d} is gone"
        self.console.print(table)
        return shown

    def _change_sources(self) -> None:
        incident_folder = self.root / generator.KEY_INCIDENT.rpartition("/")[0]
        write_sidecar(
            incident_folder,
            {"allow": ["group:security-core"], "inherit": False, "doc_type": "incident"},
        )
        (self.root / generator.ROTATION_RUNBOOK).unlink()
        self.console.print(
            Panel(
                "Erin restricts security/incidents/ to the core security team "
                "(sidecar: allow: \\[group:security-core]), removing the responders group "
                f"{ALICE.first} belongs to,\nand the secret rotation runbook is deleted: "
                f"{generator.ROTATION_RUNBOOK}.",
                title="Changes in the source",
            )
        )


def _cell(results: list[SearchResult], rank: int) -> str:
    if rank >= len(results):
        return ""
    r = results[rank]
    snippet = (r.highlights[0] if r.highlights else r.text).replace("\n", " ")
    if len(snippet) > 160:
        snippet = snippet[:157] + "..."
    # Backends mark matches with <em>; everything else is literal text, never rich markup.
    snippet = escape(snippet).replace("<em>", "[bold yellow]").replace("</em>", "[/]")
    return (
        f"[bold]{rank + 1}. {escape(r.title)}[/]\n"
        f"[dim]{r.doc_type} · {escape(r.url or r.doc_id)}[/]\n{snippet}"
    )


def run_demo(
    workdir: Path,
    *,
    size: Size = "full",
    seed: int = 7,
    model: str = "all-MiniLM-L6-v2",
    console: Console | None = None,
) -> DemoOutcome:
    # The runner's and searcher's INFO logs would interleave with the tables.
    logging.getLogger("permindex").setLevel(logging.WARNING)
    return Demo(workdir, size=size, seed=seed, model=model, console=console).run()


__all__ = ["QUERIES", "Demo", "DemoOutcome", "Person", "doc_id", "run_demo"]
