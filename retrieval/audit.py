"""One structured audit record per query or document fetch: who asked what, what they got."""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

audit_log = logging.getLogger("permindex.audit")


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    # access_explain / access_who: an admin asked why ``subject`` can see a document, or who can.
    kind: Literal[
        "search", "document", "access_explain", "access_who", "access_diff", "operator_action"
    ]
    query_id: str
    at: datetime
    service: str
    user: str
    query: str | None = None
    mode: str | None = None
    filters: dict[str, Any] = Field(default_factory=dict)
    top_k: int | None = None
    offset: int | None = None
    principal_count: int
    returned_doc_ids: list[str]
    dropped_by_acl_check: int = 0
    latency_ms: float
    subject: str | None = None  # whom an access explanation was about


class AuditSink(Protocol):
    def record(self, record: AuditRecord) -> None: ...


class LoggingAuditSink:
    """The default: the record as one JSON line on the ``permindex.audit`` logger."""

    def record(self, record: AuditRecord) -> None:
        audit_log.info(
            record.model_dump_json(),
            extra={"event": "audit", "audit": record.model_dump(mode="json")},
        )


class JsonlAuditSink:
    """Appends one JSON object per line; flushed per record so a crash loses at most one.

    The file names users and what they asked, so it is created readable by its owner only.
    It is opened once here, so a path the service cannot write fails at start-up rather than
    on every search; each record reopens it, so a rotated file is recreated.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(self._open())

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def record(self, record: AuditRecord) -> None:
        line = json.dumps(record.model_dump(mode="json"), ensure_ascii=False)
        with self._lock, os.fdopen(self._open(), "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
