"""Bulk requests with per-item outcomes, attributed to the document each action belongs to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indexer.backends.opensearch.client import RETRYABLE_STATUS, Gateway, RetryableBulkError

# Actions per request: a few MB of JSON with 384-d vectors, well under http.max_content_length.
ACTIONS_PER_REQUEST = 500


@dataclass
class BulkPlan:
    """Bulk actions, each tagged with the doc id whose outcome it decides."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    # Actions where a 404 is the expected outcome (deleting or updating what may not exist).
    missing_ok: list[bool] = field(default_factory=list)

    def index(self, index: str, key: str, source: dict[str, Any], owner: str) -> None:
        self.lines += [{"index": {"_index": index, "_id": key}}, source]
        self.owners.append(owner)
        self.missing_ok.append(False)

    def update(
        self,
        index: str,
        key: str,
        body: dict[str, Any],
        owner: str,
        missing_ok: bool = False,
    ) -> None:
        self.lines += [{"update": {"_index": index, "_id": key}}, body]
        self.owners.append(owner)
        self.missing_ok.append(missing_ok)

    def delete(self, index: str, key: str, owner: str) -> None:
        self.lines.append({"delete": {"_index": index, "_id": key}})
        self.owners.append(owner)
        self.missing_ok.append(True)

    def __len__(self) -> int:
        return len(self.owners)


def run_bulk(gw: Gateway, plan: BulkPlan) -> dict[str, str]:
    """Send the plan; returns ``doc id -> first failure reason`` for documents with a failed item.

    Items rejected for load or server reasons make the whole request retry (every action is
    idempotent: index and delete by id, partial updates with fixed values); other rejections
    are failures of their document.
    """
    failures: dict[str, str] = {}
    if not plan.owners:
        return failures
    start_line = 0
    for start in range(0, len(plan.owners), ACTIONS_PER_REQUEST):
        owners = plan.owners[start : start + ACTIONS_PER_REQUEST]
        missing_ok = plan.missing_ok[start : start + ACTIONS_PER_REQUEST]
        lines: list[dict[str, Any]] = []
        line = start_line
        for _ in owners:
            action = plan.lines[line]
            width = 1 if "delete" in action else 2
            lines += plan.lines[line : line + width]
            line += width
        start_line = line
        items = gw.call(_send, gw, lines)
        for owner, ok_if_missing, item in zip(owners, missing_ok, items, strict=True):
            outcome = next(iter(item.values()))
            status = int(outcome.get("status", 500))
            if status < 300 or (status == 404 and ok_if_missing):
                continue
            failures.setdefault(owner, _reason(outcome))
    return failures


def _send(gw: Gateway, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = gw.client.bulk(body=lines)
    items: list[dict[str, Any]] = response["items"]
    if response.get("errors"):
        for item in items:
            outcome = next(iter(item.values()))
            if int(outcome.get("status", 200)) in RETRYABLE_STATUS:
                raise RetryableBulkError(_reason(outcome))
    return items


def _reason(outcome: dict[str, Any]) -> str:
    error = outcome.get("error")
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            reason += f" ({cause['reason']})"
        return reason
    return f"status {outcome.get('status')}: {error or outcome.get('result', 'failed')}"
