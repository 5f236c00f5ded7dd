"""``permindex search``: one query on behalf of a user, through the service's own code path.

The caller is resolved by ``IdentityResolver`` and the query runs through ``Searcher.search`` with
the same audit file ``permindex serve`` writes, so an operator's check of a report is filtered,
re-checked and audited exactly as the user's own search would be. Registered on the main CLI by
one line in ``permindex/cli.py``."""

from __future__ import annotations

import getpass
import html
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from permindex.config import PermindexConfig
    from retrieval.models import SearchResponse

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

_MARK = re.compile(r"<em>(.*?)</em>", re.DOTALL)


def highlight_text(fragment: str) -> Text:
    """A highlight (escaped text, ``<em>`` marks) as rich text: marks bold, the rest literal.

    Source text is never read as rich markup: whoever writes a document controls it."""
    out = Text()
    last = 0
    for match in _MARK.finditer(fragment):
        out.append(html.unescape(fragment[last : match.start()]))
        out.append(html.unescape(match.group(1)), style="bold yellow")
        last = match.end()
    out.append(html.unescape(fragment[last:]))
    return out


def results_table(response: SearchResponse, user: str, query: str) -> Table:
    table = Table(title=f"{len(response.results)} result(s) for {user}", title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("document")
    table.add_column("source", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("highlights")
    for rank, result in enumerate(response.results, start=1):
        cited = Text(result.title or result.doc_id, style="bold")
        if result.breadcrumbs:
            cited.append("\n" + " / ".join(result.breadcrumbs), style="dim")
        cited.append("\n" + result.doc_id, style="cyan")
        if result.url:
            cited.append("\n" + result.url, style="underline")
        fragments = result.highlights or [html.escape(result.text[:200])]
        marks = Text("\n").join(highlight_text(f) for f in fragments)
        table.add_row(
            str(rank),
            cited,
            result.source_id,
            f"{result.updated_at:%Y-%m-%d}",
            f"{result.score.final:.3f}",
            marks,
        )
    return table


def register(app: typer.Typer, load_config: Callable[[], PermindexConfig]) -> None:
    err = Console(stderr=True)

    def fail(message: str, code: int) -> typer.Exit:
        err.print(Text.assemble(("error: ", "bold red"), message))
        return typer.Exit(code)

    @app.command("search")
    def search(
        query: str = typer.Argument(..., help="What to look for."),
        user: str = typer.Option(..., "--user", "-u", help="Search as this user (email)."),
        mode: str = typer.Option("hybrid", "--mode", help="keyword, vector or hybrid."),
        top_k: int = typer.Option(10, "--top-k", "-k", min=1, help="Results to return."),
        source: list[str] = typer.Option(
            [], "--source", help="Only this source id; repeat for several."
        ),
        as_json: bool = typer.Option(False, "--json", help="The service's JSON response."),
    ) -> None:
        """Search as USER: only what USER may see, audited like a search through the service."""
        from pydantic import ValidationError

        from indexer.backend import IndexUnavailableError
        from indexer.backends import open_stores
        from indexer.embedding import make_embedder
        from permindex.sources import embedding_dimension
        from retrieval.audit import JsonlAuditSink
        from retrieval.identity import IdentityError, IdentityResolver
        from retrieval.models import SearchQuery
        from retrieval.searcher import Searcher, SearchLimitError
        from retrieval.service.cli import retrieval_settings, service_settings
        from retrieval.service.settings import audit_path

        config = load_config()
        settings = retrieval_settings(config)
        try:
            request = SearchQuery(
                query=query,
                mode=mode,  # validated by the model
                top_k=top_k,
                sources=source or None,
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise fail(problems, EXIT_BAD_INPUT) from None
        audit_file = audit_path(service_settings(config), config.index)
        try:
            audit = JsonlAuditSink(audit_file)
        except OSError as exc:
            # No unaudited answers, as for the service.
            raise fail(f"cannot write the audit file {audit_file}: {exc}", EXIT_FAILED) from None
        stores = open_stores(config.index, embedding_dimension(config.embedding))
        try:
            searcher = Searcher(
                stores.index, make_embedder(config.embedding), settings, audit=audit
            )
            resolver = IdentityResolver(stores.directory, settings.org)
            try:
                principals = resolver.resolve(user)
                response = searcher.search(
                    principals, request, caller=user, service=f"cli:{getpass.getuser()}"
                )
            except IdentityError as exc:
                raise fail(str(exc), EXIT_BAD_INPUT) from None
            except SearchLimitError as exc:
                raise fail(str(exc), EXIT_BAD_INPUT) from None
            except IndexUnavailableError as exc:
                raise fail(f"the index is unavailable: {exc}", EXIT_FAILED) from None
        finally:
            stores.close()
        if as_json:
            typer.echo(response.model_dump_json(indent=2))
            return
        out = Console()
        if not response.results:
            out.print(Text(f"nothing visible to {user} matches {query!r}"))
        else:
            out.print(results_table(response, user, query))
        err.print(
            Text(f"query {response.query_id} in {response.took_ms:.0f} ms, audited in {audit_file}")
        )
