"""HTML of the console's operator actions: a source's page (pause or resume, prune preview,
delete after typing its id) and the re-index page. Every value escaped; forms only, no scripts.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.operations.controls import SourceControl
from indexer.operations.prune_preview import PrunePreview
from retrieval.service.admin_operations_reindex import ReindexOperation
from retrieval.service.console_pages import e, page, table, when

PREVIEW_PAGE = 100


@dataclass(frozen=True)
class Outcome:
    """What the last action did, shown above the page (``error``: refused or failed)."""

    message: str
    error: bool = False

    def html(self) -> str:
        if self.error:
            return f'<p class="error" role="alert" id="outcome">{e(self.message)}</p>'
        return f'<p class="notice" role="status" id="outcome">{e(self.message)}</p>'


def _form(action: str, csrf: str, inner: str, button: str, *, button_id: str) -> str:
    return (
        f'<form method="post" action="{e(action)}">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">{inner}'
        f'<div><button type="submit" id="{e(button_id)}">{e(button)}</button></div></form>'
    )


def state_of(control: SourceControl) -> str:
    if control.deleting:
        return "being deleted"
    if control.paused:
        return "paused"
    return "active"


def _preview_html(base: str, csrf: str, preview: PrunePreview, offset: int) -> str:
    shown = preview.candidates[offset : offset + PREVIEW_PAGE]
    rows = [[f"<code>{e(c.doc_id)}</code>", e(c.external_id or "-"), e(c.reason)] for c in shown]
    end = offset + len(shown)
    caption = (
        f"Would be deleted: {offset + 1 if shown else 0}-{end} of {len(preview.candidates)}"
        " (a dry run: nothing was deleted)"
    )
    kept = ""
    if preview.kept_scopes:
        items = "".join(
            f"<li>scope <code>{e(scope)}</code> kept: {e(reason)}</li>"
            for scope, reason in sorted(preview.kept_scopes.items())
        )
        kept = f'<ul class="notes">{items}</ul>'
    pager = ""
    for label, to, ident in (
        ("Previous page", offset - PREVIEW_PAGE, "preview-previous"),
        ("Next page", end, "preview-next"),
    ):
        if 0 <= to < len(preview.candidates) and to != offset:
            hidden = f'<input type="hidden" name="offset" value="{to}">'
            pager += _form(f"{base}/prune-preview", csrf, hidden, label, button_id=ident)
    return (
        f'<p id="preview-summary">{e(preview.message)}.</p>{kept}'
        + table(caption, ("document", "external id", "why"), rows)
        + pager
    )


def source_page(
    csrf: str,
    source_id: str,
    control: SourceControl,
    documents: int,
    *,
    configured: bool | None,
    outcome: Outcome | None = None,
    preview: PrunePreview | None = None,
    offset: int = 0,
) -> str:
    base = f"/console/sources/{source_id}"
    days = control.retention_days
    facts = table(
        "State",
        ("field", "value"),
        [
            [e("state"), f'<strong id="source-state">{e(state_of(control))}</strong>'],
            [e("reason"), e(control.reason or "-")],
            [e("documents in the index"), f'<span id="source-documents">{documents:,}</span>'],
            [e("retention"), e("off" if days is None else f"{days} days")],
            [e("last deleted"), e(when(control.deleted_at))],
            [
                e("configured in this service"),
                e("not known here" if configured is None else "yes" if configured else "no"),
            ],
        ],
    )
    if control.paused and not control.deleting:
        pausing = "<p>No run of this source starts until it is resumed.</p>" + _form(
            f"{base}/resume", csrf, "", "Resume", button_id="resume"
        )
    elif control.deleting:
        pausing = "<p>A delete is unfinished: delete again to finish it, then resume.</p>"
    else:
        reason = (
            '<label for="reason">Reason (shown by status and sync)</label>'
            '<input id="reason" name="reason" maxlength="500" autocomplete="off">'
        )
        pausing = "<p>Runs in progress finish; no new run starts.</p>" + _form(
            f"{base}/pause", csrf, reason, "Pause", button_id="pause"
        )
    pruning = (
        "<p>Lists the source again and shows what a prune would delete and why: documents it "
        "no longer lists, and those past its retention. Deletes nothing.</p>"
        + _form(f"{base}/prune-preview", csrf, "", "Preview a prune", button_id="prune-preview")
    )
    if preview is not None:
        pruning += _preview_html(base, csrf, preview, offset)
    confirm = (
        f'<label for="confirm">Type the source id <code>{e(source_id)}</code> to confirm</label>'
        '<input id="confirm" name="confirm" autocomplete="off" required>'
    )
    deleting = (
        f"<p>Deletes every document, chunk, group, identity and checkpoint of "
        f"<code>{e(source_id)}</code> ({documents:,} documents); the source stays paused. "
        "Audited.</p>" + _form(f"{base}/delete", csrf, confirm, "Delete source", button_id="delete")
    )
    history = table(
        "Operator actions",
        ("when", "action", "by", "detail"),
        [
            [e(when(a.at)), e(a.action), e(a.by), e(a.detail or "-")]
            for a in reversed(control.history)
        ],
    )
    body = (
        (outcome.html() if outcome else "")
        + f"{facts}<h2>Pause or resume</h2>{pausing}<h2>Prune preview</h2>{pruning}"
        f"<h2>Delete the source</h2>{deleting}<h2>History</h2>{history}"
        f'<p><a href="/console/runs?source={e(source_id)}">Runs of {e(source_id)}</a></p>'
    )
    return page(f"Source {source_id}", body, active="sources", csrf=csrf)


def reindex_page(csrf: str, op: ReindexOperation | None, *, outcome: Outcome | None = None) -> str:
    intro = (
        "<p>Copies every document into a new index (the configured analyzer and mapping) "
        "while the old one serves; writes made during the copy are carried over before the "
        "swap. One re-index at a time. Re-embedding with a new model is "
        "<code>permindex reindex --reembed</code>.</p>"
    )
    status = ""
    if op is not None:
        report = op.report
        rows = [
            [e("operation"), f"<code>{e(op.operation_id)}</code>"],
            [e("status"), f'<strong id="reindex-status">{e(op.status)}</strong>'],
            [e("started"), e(f"{when(op.started_at)} by {op.started_by}")],
            [e("ended"), e(when(op.ended_at))],
            [e("documents copied"), f'<span id="reindex-copied">{op.copied:,}</span>'],
        ]
        if report is not None:
            rows.append(
                [
                    e("result"),
                    e(
                        f"{report.documents} documents in {report.passes} passes, "
                        f"{report.recopied} copied again, {report.removed} removed; "
                        f"now serving {report.new}"
                    ),
                ]
            )
        if op.error:
            rows.append([e("error"), e(op.error)])
        status = table("Latest re-index", ("field", "value"), rows)
        if op.status == "running":
            href = f"/console/reindex?operation={op.operation_id}"
            status += f'<p><a href="{e(href)}" id="reindex-refresh">Refresh progress</a></p>'
    start = (
        ""
        if op is not None and op.status == "running"
        else _form("/console/reindex", csrf, "", "Start a re-index", button_id="reindex-start")
    )
    body = (outcome.html() if outcome else "") + intro + status + start
    return page("Re-index", body, active="reindex", csrf=csrf)
