"""HTML of the operator console: plain Python string templates, every value escaped.

No scripts at all (the CSP forbids them), one same-origin stylesheet, no external resources.
Every rule of the stylesheet that sets a text colour also sets its background, so the contrast
of each pair can be checked from the stylesheet alone (tests/browser checks the rendered pages).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from indexer.state_store import RunRecord
from indexer.status import SourceStatus, StatusReport

if TYPE_CHECKING:
    from retrieval.access.models import AccessExplanation, HeldPrincipal

STYLESHEET = """\
html { font-family: system-ui, sans-serif; font-size: 100%; }
body { margin: 0; color: #1b1f24; background: #ffffff; line-height: 1.45; }
a { color: #0b4f9c; background: #ffffff; }
a:focus, button:focus, input:focus, select:focus {
  outline: 3px solid #b35900;
  outline-offset: 2px;
}
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; color: #1b1f24; background: #ffffff; padding: 4px; }
header {
  color: #ffffff;
  background: #1f3a5f;
  padding: 8px 16px;
  display: flex;
  gap: 24px;
  align-items: center;
  flex-wrap: wrap;
}
header a { color: #ffffff; background: #1f3a5f; }
header .brand { font-weight: bold; }
header form { margin-left: auto; }
main { padding: 8px 16px 32px; max-width: 90rem; }
table { border-collapse: collapse; margin: 8px 0 24px; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { border: 1px solid #8a96a3; padding: 4px 8px; text-align: left; vertical-align: top; }
th { color: #1b1f24; background: #e9eef3; }
td.num { text-align: right; }
.muted { color: #4a5560; background: #ffffff; }
.status-succeeded, .verdict-visible, .notice { color: #0f5132; background: #d1e7dd; }
.status-failed, .verdict-not_visible, .verdict-not_indexed, .error {
  color: #842029;
  background: #f8d7da;
}
.status-other { color: #664d03; background: #fff3cd; }
.status-succeeded, .status-failed, .status-other { padding: 0 4px; font-weight: bold; }
.verdict-visible, .verdict-not_visible, .verdict-not_indexed, .error, .notice {
  padding: 8px 12px;
  border: 1px solid #8a96a3;
}
code { color: #1b1f24; background: #f1f3f5; padding: 0 2px; }
label { display: block; font-weight: bold; margin-top: 8px; }
input, select {
  font: inherit;
  color: #1b1f24;
  background: #ffffff;
  border: 1px solid #5c6773;
  padding: 4px;
  min-width: 20rem;
}
button {
  font: inherit;
  color: #ffffff;
  background: #0b4f9c;
  border: 1px solid #0b4f9c;
  padding: 4px 12px;
  margin-top: 8px;
  cursor: pointer;
}
header button { color: #1f3a5f; background: #ffffff; border: 1px solid #ffffff; margin-top: 0; }
ul.notes li { margin: 4px 0; }
"""

NAV = (
    ("sources", "/console/", "Sources"),
    ("runs", "/console/runs", "Runs"),
    ("reindex", "/console/reindex", "Re-index"),
)
NAV_ACCESS = ("access", "/console/access", "Access explainer")


def e(value: object) -> str:
    """Escaped text (quotes too: values land in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def lag(seconds: float | None) -> str:
    return "never succeeded" if seconds is None else str(timedelta(seconds=round(seconds)))


def status_badge(status: str | None) -> str:
    if status is None:
        return "-"
    kind = status if status in ("succeeded", "failed") else "other"
    return f'<span class="status-{kind}">{e(status)}</span>'


def table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """``rows`` hold already-rendered HTML cells; an empty table says so in a row."""
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        body = f'<tr><td colspan="{len(headers)}" class="muted">none</td></tr>'
    return (
        f"<table><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def page(title: str, body: str, *, active: str = "", csrf: str | None = None) -> str:
    nav = ""
    if csrf is not None:
        links = []
        for key, href, label in (*NAV, NAV_ACCESS):
            current = ' aria-current="page"' if key == active else ""
            links.append(f'<a href="{e(href)}"{current}>{e(label)}</a>')
        nav = (
            '<nav aria-label="console">' + " ".join(links) + "</nav>"
            '<form method="post" action="/console/logout">'
            f'<input type="hidden" name="csrf" value="{e(csrf)}">'
            '<button type="submit">Log out</button></form>'
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{e(title)} - permindex console</title>"
        '<link rel="stylesheet" href="/console/static/console.css"></head><body>'
        '<a class="skip" href="#main">Skip to content</a>'
        f'<header><span class="brand">permindex console</span>{nav}</header>'
        f'<main id="main"><h1>{e(title)}</h1>{body}</main></body></html>'
    )


def login_page(csrf: str, error: str | None = None) -> str:
    problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    body = (
        f"{problem}<p>Log in with an API key that has the <code>admin</code> capability. "
        "The key stays on the server; the browser keeps only a session cookie.</p>"
        '<form method="post" action="/console/login">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        '<label for="api_key">Admin API key</label>'
        '<input id="api_key" name="api_key" type="password" autocomplete="off" required>'
        '<div><button type="submit">Log in</button></div></form>'
    )
    return page("Log in", body)


def error_page(title: str, message: str, csrf: str | None) -> str:
    return page(title, f'<p class="error" role="alert">{e(message)}</p>', csrf=csrf)


# -- sources ---------------------------------------------------------------------------------


def _next_run(entry: SourceStatus) -> str:
    following = min(entry.next_runs.values(), default=None)
    if following is None:
        return '<span class="muted">not known here</span>'
    kinds = ", ".join(k for k, v in sorted(entry.next_runs.items()) if v == following)
    return f"{e(when(following))} ({e(kinds)})"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def sources_page(report: StatusReport, csrf: str, *, configuration_known: bool = True) -> str:
    rows = []
    for entry in report.sources:
        last = entry.last_run
        last_desc = (
            "-"
            if last is None
            else f"{e(last.run_type)} {status_badge(last.status)} {e(when(last.started_at))}"
        )
        name = f'<a href="/console/runs?source={e(entry.source_id)}">{e(entry.source_id)}</a>'
        if configuration_known and not entry.configured:
            name += ' <span class="muted">(not in this service\'s configuration)</span>'
        if entry.paused:
            name += f' <span class="muted">({e(entry.paused)})</span>'
        rows.append(
            [
                name,
                last_desc,
                e(lag(entry.lag_seconds)),
                _next_run(entry),
                e(f"{_count(entry.documents)} / {_count(entry.chunks)}"),
                e(f"{entry.failed_runs} / {entry.document_errors}"),
                f'<a href="/console/sources/{e(entry.source_id)}">manage'
                f' <span class="skip">{e(entry.source_id)}</span></a>',
            ]
        )
    sources = table(
        "Sources",
        (
            "source",
            "last run",
            "lag",
            "next run",
            "documents / chunks",
            "failed runs / doc errors",
            "actions",
        ),
        rows,
    )
    scope_rows = []
    for entry in report.sources:
        following = min(entry.next_runs.values(), default=None)
        for scope in entry.scopes:
            scope_rows.append(
                [
                    e(entry.source_id),
                    e(scope.scope or "(all)"),
                    f"{status_badge(scope.last_status)} {e(when(scope.last_run_at))}",
                    e(lag(scope.lag_seconds)),
                    e(when(following)),
                    e(", ".join(scope.queued) or "-"),
                    e(scope.last_error or "-"),
                ]
            )
    scopes = table(
        "Scopes",
        ("source", "scope", "last run", "lag", "next run", "queued", "last error"),
        scope_rows,
    )
    errors = ""
    for entry in report.sources:
        if entry.top_errors:
            items = "".join(
                f"<li>{error.count}x {e(error.reason)}</li>" for error in entry.top_errors
            )
            errors += (
                f"<h3>{e(entry.source_id)} (last {entry.runs_considered} runs)</h3>"
                f'<ul class="notes">{items}</ul>'
            )
    if errors:
        errors = "<h2>Commonest errors</h2>" + errors
    queue = ""
    if report.queue_error:
        queue = f'<p class="error" role="alert">{e(report.queue_error)}</p>'
    elif report.queue_depth is not None:
        queue = f"<p>Queue: {report.queue_depth} waiting, {report.queue_unacked} delivered.</p>"
    body = (
        f'<p class="muted">{e(report.backend)} index, as of {e(when(report.generated_at))}.</p>'
        f"{queue}<h2>Status</h2>{sources}{scopes}{errors}"
    )
    return page("Sources", body, active="sources", csrf=csrf)


# -- runs ------------------------------------------------------------------------------------


def _duration(run: RunRecord) -> str:
    if run.ended_at is None:
        return "-"
    return str(timedelta(seconds=round((run.ended_at - run.started_at).total_seconds())))


def _run_problem(run: RunRecord) -> str:
    if run.message:
        return run.message
    if run.failed_scopes:
        return f"scope {run.failed_scopes[0].scope}: {run.failed_scopes[0].reason}"
    if run.errors:
        return f"{run.errors[0].doc_id}: {run.errors[0].reason}"
    return ""


def runs_page(
    runs: Sequence[RunRecord], sources: Sequence[str], chosen: str | None, csrf: str
) -> str:
    options = ['<option value="">all sources</option>']
    for source_id in sources:
        selected = " selected" if source_id == chosen else ""
        options.append(f'<option value="{e(source_id)}"{selected}>{e(source_id)}</option>')
    picker = (
        '<form method="get" action="/console/runs">'
        '<label for="source">Source</label>'
        f'<select id="source" name="source">{"".join(options)}</select> '
        '<button type="submit">Show</button></form>'
    )
    rows = []
    for run in runs:
        c = run.counts
        rows.append(
            [
                e(when(run.started_at)),
                e(run.source_id),
                e(run.scope or "(all)"),
                e(run.run_type),
                status_badge(run.status),
                e(_duration(run)),
                e(f"{c.created} / {c.updated} / {c.acl_updated} / {c.deleted} / {c.failed}"),
                e(_run_problem(run) or "-"),
                f"<code>{e(run.run_id)}</code>",
            ]
        )
    history = table(
        f"Latest {len(runs)} run(s)" + (f" of {chosen}" if chosen else ""),
        (
            "started",
            "source",
            "scope",
            "type",
            "status",
            "took",
            "created / updated / acl updated / deleted / failed",
            "message or first error",
            "run id",
        ),
        rows,
    )
    return page("Run history", picker + history, active="runs", csrf=csrf)


# -- access explainer ------------------------------------------------------------------------


def _held(held: HeldPrincipal) -> str:
    if not held.path:
        return f"<code>{e(held.principal)}</code> ({e(held.seed)})"
    steps = " &rarr; ".join(
        [f"<code>{e(held.path[0].member)}</code>"]
        + [
            f"<code>{e(s.group)}</code>"
            + (
                f' <span class="muted">(groups run {e(s.synced_by.run_id)})</span>'
                if s.synced_by
                else ""
            )
            for s in held.path
        ]
    )
    return f"<code>{e(held.principal)}</code> via {steps}"


def explanation_html(answer: AccessExplanation) -> str:
    verdict = {"visible": "Visible", "not_visible": "Not visible", "not_indexed": "Not indexed"}
    summary = answer.summary
    head, _, rest = summary.partition(": ")
    if rest and head in ("visible", "not visible"):
        summary = rest  # the banner already says it
    banner = (
        f'<div class="verdict-{e(answer.verdict)}" role="status" id="verdict">'
        f"<strong>{e(verdict.get(answer.verdict, answer.verdict))}</strong>: {e(summary)}"
        "</div>"
    )
    checked = answer.acl_checked_by
    facts = table(
        "Document",
        ("field", "value"),
        [
            [e("document"), f"<code>{e(answer.doc_id)}</code>"],
            [e("title"), e(answer.title or "-")],
            [e("source"), e(answer.source_id or "-")],
            [e("user"), e(answer.user)],
            [e("effective ACL"), e(", ".join(answer.effective_acl) or "(empty: nobody)")],
            [e("principals of the user it admits"), e(", ".join(answer.matched_acl) or "none")],
            [e("ACL last written"), e(when(answer.acl_written_at))],
            [
                e("ACL last checked by"),
                "-"
                if checked is None
                else e(f"{checked.run_type} run {checked.run_id} ({checked.status}) ")
                + e(when(checked.ended_at)),
            ],
            [e("layers"), e(answer.layers_status.replace("_", " "))],
        ],
    )
    layers = table(
        "ACL layers as the source gave them",
        ("#", "kind", "layer", "from", "principals", "admits the user", "through"),
        [
            [
                str(layer.position),
                e(layer.kind),
                e(layer.label),
                e(
                    "-"
                    if layer.origin is None
                    else layer.origin + (f" line {layer.line}" if layer.line is not None else "")
                ),
                e(", ".join(layer.principals) or "(none)"),
                "yes" if layer.admits else "<strong>no: admitted nobody of theirs</strong>",
                e(", ".join(layer.matched) or "-"),
            ]
            for layer in answer.layers
        ],
    )
    held = "".join(f"<li>{_held(h)}</li>" for h in answer.principals)
    org = ""
    if answer.org is not None:
        member = "member" if answer.org.member else "not a member"
        org = (
            f"<p>Organisation <code>{e(answer.org.tenant)}</code>: {e(member)} "
            f"({e(answer.org.reason)}).</p>"
        )
    notes = "".join(f"<li>{e(n)}</li>" for n in answer.notes)
    return (
        f"<h2>Verdict</h2>{banner}{facts}{layers}"
        "<h2>How the user holds their principals</h2>"
        f'<ul class="notes">{held or "<li>none</li>"}</ul>'
        f"{org}" + (f'<h2>Notes</h2><ul class="notes">{notes}</ul>' if notes else "")
    )


def access_page(
    csrf: str,
    *,
    user: str = "",
    doc_id: str = "",
    result: str = "",
    error: str | None = None,
    unavailable: str | None = None,
) -> str:
    if unavailable is not None:
        body = f'<p class="error" role="alert">explainer unavailable: {e(unavailable)}</p>'
        return page("Access explainer", body, active="access", csrf=csrf)
    problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    form = (
        "<p>Why can (or can't) this person see this document? Answered from what the index "
        "holds, by the search path's own check. Every question is audited.</p>"
        '<form method="post" action="/console/access">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        '<label for="user">User email</label>'
        f'<input id="user" name="user" type="email" value="{e(user)}" required autocomplete="off">'
        '<label for="doc_id">Document id</label>'
        f'<input id="doc_id" name="doc_id" value="{e(doc_id)}" required autocomplete="off">'
        '<div><button type="submit">Explain</button></div></form>'
    )
    return page("Access explainer", problem + form + result, active="access", csrf=csrf)
