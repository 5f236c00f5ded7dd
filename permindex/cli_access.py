"""``permindex access explain|who|diff``: why a person can (or cannot) see a document, who can,
and what became visible or hidden for a person since a time.

Answered from what the index holds, with the search path's own verdict
(``retrieval.access.explain``). A table on a terminal, ``--json`` for scripts. Each call is
audited to the service's audit file, like ``permindex search``. Registered on the main CLI by
one line in ``permindex/cli.py``; ``access_app`` is the sub-app further access commands join.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from indexer.backends import Stores
    from permindex.config import PermindexConfig
    from retrieval.access.diff import AccessDiff, JournalChange
    from retrieval.access.models import AccessAudience, AccessExplanation
    from retrieval.audit import AuditSink
    from retrieval.identity import IdentityResolver

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

access_app = typer.Typer(
    help="Why a user can or cannot see a document, and who can see it.", no_args_is_help=True
)
_err = Console(stderr=True)
_load_config: list[Callable[[], PermindexConfig]] = []


def _fail(message: str, code: int) -> typer.Exit:
    _err.print(Text.assemble(("error: ", "bold red"), message))
    return typer.Exit(code)


@contextmanager
def _opened() -> Iterator[tuple[Stores, IdentityResolver, AuditSink, str]]:
    from indexer.backends import open_stores
    from permindex.sources import embedding_dimension
    from retrieval.audit import JsonlAuditSink
    from retrieval.identity import IdentityResolver
    from retrieval.service.cli import retrieval_settings, service_settings
    from retrieval.service.settings import audit_path

    config = _load_config[0]()
    settings = retrieval_settings(config)
    audit_file = audit_path(service_settings(config), config.index)
    try:
        audit = JsonlAuditSink(audit_file)
    except OSError as exc:
        raise _fail(f"cannot write the audit file {audit_file}: {exc}", EXIT_FAILED) from None
    stores = open_stores(config.index, embedding_dimension(config.embedding))
    try:
        yield stores, IdentityResolver(stores.directory, settings.org), audit, str(audit_file)
    finally:
        stores.close()


@access_app.command("explain")
def explain(
    user: str = typer.Option(..., "--user", "-u", help="The person (email)."),
    doc: str = typer.Option(..., "--doc", "-d", help="The document id (<source>:<external id>)."),
    as_json: bool = typer.Option(False, "--json", help="The explanation as JSON."),
) -> None:
    """Why USER can or cannot see DOC: verdict, layers, group paths, org membership."""
    from indexer.backend import IndexUnavailableError
    from retrieval.access.audit import explain_record
    from retrieval.access.explain import explain_access
    from retrieval.identity import IdentityError

    with _opened() as (stores, resolver, audit, audit_file):
        started = time.perf_counter()
        try:
            answer = explain_access(stores, resolver, user, doc)
        except IdentityError as exc:
            raise _fail(str(exc), EXIT_BAD_INPUT) from None
        except IndexUnavailableError as exc:
            raise _fail(f"the index is unavailable: {exc}", EXIT_FAILED) from None
        latency = (time.perf_counter() - started) * 1000.0
        asker = f"cli:{getpass.getuser()}"
        audit.record(explain_record(answer, asker=asker, service=asker, latency_ms=latency))
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    print_explanation(Console(), answer)
    _err.print(Text(f"audited in {audit_file}"))


@access_app.command("who")
def who(
    doc: str = typer.Option(..., "--doc", "-d", help="The document id (<source>:<external id>)."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many people."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="People per page."),
    as_json: bool = typer.Option(False, "--json", help="The audience as JSON."),
) -> None:
    """Who can see DOC: its ACL expanded through the synced groups, paged, counts per layer."""
    from indexer.backend import IndexUnavailableError
    from retrieval.access.audience import who_can_see
    from retrieval.access.audit import who_record

    with _opened() as (stores, resolver, audit, audit_file):
        started = time.perf_counter()
        try:
            audience = who_can_see(stores, resolver, doc, offset=offset, limit=limit)
        except IndexUnavailableError as exc:
            raise _fail(f"the index is unavailable: {exc}", EXIT_FAILED) from None
        latency = (time.perf_counter() - started) * 1000.0
        asker = f"cli:{getpass.getuser()}"
        audit.record(who_record(audience, asker=asker, service=asker, latency_ms=latency))
    if as_json:
        typer.echo(audience.model_dump_json(indent=2))
        return
    print_audience(Console(), audience)
    _err.print(Text(f"audited in {audit_file}"))


@access_app.command("diff")
def diff(
    user: str = typer.Option(..., "--user", "-u", help="The person (email)."),
    since: str = typer.Option(
        ..., "--since", "-s", help="ISO time (2026-03-01T14:00:00Z) or relative: 30m, 2h, 3d, 1w."
    ),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many documents."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="Documents per page."),
    as_json: bool = typer.Option(False, "--json", help="The diff as JSON."),
) -> None:
    """Documents that became visible or hidden for USER since a time, and what changed."""
    from datetime import UTC, datetime

    from indexer.backend import IndexUnavailableError
    from retrieval.access.audit import diff_record
    from retrieval.access.diff import DiffUnavailableError, access_diff, parse_since
    from retrieval.identity import IdentityError

    now = datetime.now(UTC)
    try:
        since_at = parse_since(since, now)
    except ValueError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    with _opened() as (stores, resolver, audit, audit_file):
        started = time.perf_counter()
        try:
            answer = access_diff(
                stores, resolver, user, since_at, offset=offset, limit=limit, now=now
            )
        except (IdentityError, DiffUnavailableError) as exc:
            raise _fail(str(exc), EXIT_BAD_INPUT) from None
        except IndexUnavailableError as exc:
            raise _fail(f"the index is unavailable: {exc}", EXIT_FAILED) from None
        latency = (time.perf_counter() - started) * 1000.0
        asker = f"cli:{getpass.getuser()}"
        audit.record(diff_record(answer, asker=asker, service=asker, latency_ms=latency))
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    print_diff(Console(), answer)
    _err.print(Text(f"audited in {audit_file}"))


def print_diff(out: Console, answer: AccessDiff) -> None:
    out.print(
        Text.assemble(
            (answer.user, "bold"),
            f" since {answer.since.isoformat(timespec='seconds')}: ",
            (f"{answer.hidden} hidden", "bold red"),
            ", ",
            (f"{answer.visible} became visible", "bold green"),
        )
    )
    if answer.principals_lost:
        out.print(Text(f"principals lost: {', '.join(answer.principals_lost)}"))
    if answer.principals_gained:
        out.print(Text(f"principals gained: {', '.join(answer.principals_gained)}"))
    if answer.items:
        last = answer.offset + len(answer.items)
        out.print(Text(f"documents {answer.offset + 1}-{last} of {answer.total}"))
    for item in answer.items:
        change = (
            Text("VISIBLE ", style="bold green")
            if item.change == "visible"
            else Text("HIDDEN  ", style="bold red")
        )
        gone = "  (deleted: no longer in the index)" if item.deleted else ""
        out.print(Text.assemble(change, f"{item.doc_id}  {item.title or ''}".rstrip(), gone))
        then = ", ".join(item.matched_then) or "none"
        now = ", ".join(item.matched_now) or "none"
        out.print(Text(f"        their principals in the ACL: then {then}; now {now}"))
        for journaled in item.changes:
            out.print(Text(f"        - {_because(journaled)}"))
    for note in answer.notes:
        out.print(Text(f"note: {note}", style="yellow"))


def _because(change: JournalChange) -> str:
    at = change.at.isoformat(timespec="seconds")
    run_type = f" {change.run_type}" if change.run_type else ""
    run = f"{at} {change.source_id}{run_type} run {change.run_id[:8]}"
    if change.group is not None:
        who = ", ".join(change.principals_added or change.principals_removed)
        verb = "added to" if change.kind == "membership_added" else "removed from"
        return f"{run}: {who} {verb} {change.group}"
    moved = [f"+{x}" for x in change.principals_added] + [
        f"-{x}" for x in change.principals_removed
    ]
    what = change.kind.replace("_", " ")
    return f"{run}: {what}{' ' + ' '.join(moved) if moved else ''}"


def print_explanation(out: Console, answer: AccessExplanation) -> None:
    style = "bold green" if answer.visible else "bold red"
    out.print(
        Text.assemble((answer.verdict.replace("_", " ").upper(), style), "  ", answer.summary)
    )
    facts = Table(show_header=False, box=None, pad_edge=False)
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    facts.add_row("document", Text(f"{answer.doc_id}  {answer.title or ''}".rstrip()))
    facts.add_row("user", Text(answer.user))
    facts.add_row("effective ACL", Text(", ".join(answer.effective_acl) or "(empty: nobody)"))
    facts.add_row("user holds", Text(", ".join(answer.matched_acl) or "none of it"))
    if answer.acl_written_at is not None:
        facts.add_row("ACL written", Text(answer.acl_written_at.isoformat(timespec="seconds")))
    checked = answer.acl_checked_by
    if checked is not None:
        ended = checked.ended_at.isoformat(timespec="seconds") if checked.ended_at else "?"
        facts.add_row("ACL checked", Text(f"{checked.run_type} run {checked.run_id} at {ended}"))
    if answer.org is not None:
        member = "member" if answer.org.member else "not a member"
        facts.add_row(
            "organisation", Text(f"{answer.org.principal}: {member} ({answer.org.reason})")
        )
    facts.add_row("layers", Text(answer.layers_status.replace("_", " ")))
    out.print(facts)
    if answer.layers:
        table = Table(title="ACL layers as the source gave them", title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("layer")
        table.add_column("where")
        table.add_column("allows")
        table.add_column("matched")
        for layer in answer.layers:
            where = (layer.origin or "-") + (f" line {layer.line}" if layer.line else "")
            matched = (
                Text(", ".join(layer.matched), style="green")
                if layer.admits
                else Text("admitted nobody of theirs", style="bold red")
            )
            table.add_row(
                str(layer.position),
                Text(layer.label),
                Text(where),
                Text(", ".join(layer.principals) or "(nobody)"),
                matched,
            )
        out.print(table)
    chains = [h for h in answer.principals if h.path]
    if chains:
        table = Table(title="Group paths", title_justify="left")
        table.add_column("principal")
        table.add_column("path")
        table.add_column("synced by")
        for held in chains:
            path = " -> ".join([held.path[0].member, *(step.group for step in held.path)])
            runs = ", ".join(
                dict.fromkeys(
                    f"{s.source_id} groups run {s.synced_by.run_id}"
                    if s.synced_by
                    else f"{s.source_id}: not recorded"
                    for s in held.path
                )
            )
            table.add_row(Text(held.principal), Text(path), Text(runs))
        out.print(table)
    for note in answer.notes:
        out.print(Text(f"note: {note}", style="yellow"))


def print_audience(out: Console, audience: AccessAudience) -> None:
    if not audience.found:
        out.print(Text(f"{audience.doc_id}: not in the index; nobody can find it"))
        return
    out.print(
        Text(
            f"{audience.doc_id}  {audience.title or ''}\n"
            f"effective ACL: {', '.join(audience.effective_acl) or '(empty: nobody)'}"
        )
    )
    if audience.org_wide is not None:
        out.print(
            Text(
                f"admits the organisation {audience.org_wide.principal}: {audience.org_wide.reason}"
            )
        )
    last = audience.offset + len(audience.members)
    title = f"people {audience.offset + 1}-{last} of {audience.total}"
    table = Table(title=title, title_justify="left")
    table.add_column("who")
    table.add_column("through")
    for member in audience.members:
        table.add_row(Text(member.principal), Text(", ".join(member.via)))
    out.print(table)
    counts = Table(title="per ACL principal", title_justify="left")
    counts.add_column("principal")
    counts.add_column("admits", justify="right")
    for count in audience.per_principal:
        extra = f" + {count.description}" if count.description else ""
        counts.add_row(Text(count.principal), Text(f"{count.admits}{extra}"))
    out.print(counts)
    if audience.per_layer:
        layers = Table(title="per layer", title_justify="left")
        layers.add_column("#", justify="right")
        layers.add_column("layer")
        layers.add_column("admits", justify="right")
        for layer in audience.per_layer:
            org = " + the organisation" if layer.org_wide else ""
            layers.add_row(str(layer.position), Text(layer.label), Text(f"{layer.admits}{org}"))
        out.print(layers)
    for note in audience.notes:
        out.print(Text(f"note: {note}", style="yellow"))


def register(app: typer.Typer, load_config: Callable[[], PermindexConfig]) -> None:
    _load_config[:] = [load_config]
    app.add_typer(access_app, name="access")
