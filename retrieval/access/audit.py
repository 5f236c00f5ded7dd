"""The audit record of an access question: who asked, about whom and which document, and the
verdict (never the document's content)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from retrieval.access.diff import AccessDiff
from retrieval.access.models import AccessAudience, AccessExplanation
from retrieval.audit import AuditRecord


def explain_record(
    answer: AccessExplanation, *, asker: str, service: str, latency_ms: float
) -> AuditRecord:
    return AuditRecord(
        kind="access_explain",
        query_id=uuid.uuid4().hex,
        at=datetime.now(UTC),
        service=service,
        user=asker,
        subject=answer.user,
        filters={"doc_id": answer.doc_id, "verdict": answer.verdict},
        principal_count=len(answer.principal_names),
        returned_doc_ids=[answer.doc_id] if answer.source_id is not None else [],
        latency_ms=latency_ms,
    )


def who_record(
    audience: AccessAudience, *, asker: str, service: str, latency_ms: float
) -> AuditRecord:
    return AuditRecord(
        kind="access_who",
        query_id=uuid.uuid4().hex,
        at=datetime.now(UTC),
        service=service,
        user=asker,
        filters={"doc_id": audience.doc_id},
        offset=audience.offset,
        top_k=audience.limit,
        principal_count=len(audience.effective_acl),
        returned_doc_ids=[audience.doc_id] if audience.found else [],
        latency_ms=latency_ms,
    )


def diff_record(diff: AccessDiff, *, asker: str, service: str, latency_ms: float) -> AuditRecord:
    return AuditRecord(
        kind="access_diff",
        query_id=uuid.uuid4().hex,
        at=datetime.now(UTC),
        service=service,
        user=asker,
        subject=diff.user,
        filters={"since": diff.since.isoformat(), "until": diff.until.isoformat()},
        offset=diff.offset,
        top_k=diff.limit,
        principal_count=len(diff.principals_gained) + len(diff.principals_lost),
        returned_doc_ids=[item.doc_id for item in diff.items],
        latency_ms=latency_ms,
    )
