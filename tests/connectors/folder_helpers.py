"""Building folder trees for the folder connector tests, and replaying its events."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.documents import Acl
from connectors.events import (
    Checkpoint,
    CheckpointReached,
    DocumentDeleted,
    DocumentFailed,
    DocumentUpserted,
    PermissionsChanged,
)
from connectors.folder import FolderConnector
from connectors.org import OrgPolicy

FIXED_NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
ORG = OrgPolicy(tenant="acme", domains=frozenset({"example.com", "acme.com"}))


def connector(root: Path, **options: Any) -> FolderConnector:
    options.setdefault("org", ORG)
    return FolderConnector(source_id="docs", root=root, clock=lambda: FIXED_NOW, **options)


def write(root: Path, relpath: str, content: str | bytes, *, mtime_ns: int | None = None) -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def touch_later(path: Path) -> None:
    """Move the mtime forward so a rewrite is visible even on coarse-timestamp filesystems."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))


def minimal_pdf(text: str, title: str | None = None) -> bytes:
    """A valid one-page PDF showing ``text`` in Helvetica, written by hand with a correct xref."""
    content = b"BT /F1 24 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if title is not None:
        objects.append(b"<< /Title (" + title.encode("latin-1") + b") >>")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1) + b"0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = b" /Info %d 0 R" % len(objects) if title is not None else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\n" % (len(objects) + 1, info)
    out += b"startxref\n%d\n" % xref_at + b"%%EOF\n"
    return out


@dataclass
class Replica:
    """What an index would hold after applying a connector's events: id -> (title, body, acl).

    It is also the ``SyncContext`` the connector gets, as the indexer's would be: the versions
    and ids of what it holds.
    """

    docs: dict[str, tuple[str, str, Acl]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    checkpoint: Checkpoint | None = None
    versions: dict[str, str | None] = field(default_factory=dict)
    full: bool = False
    stop: threading.Event = field(default_factory=threading.Event)

    def heartbeat(self) -> None:
        return None

    def indexed_versions(self, external_ids: Sequence[str]) -> dict[str, str]:
        held = ((i, self.versions.get(i)) for i in external_ids if i in self.docs)
        return {i: version for i, version in held if version is not None}

    def indexed_ids(self) -> Iterator[str]:
        yield from list(self.docs)

    def apply(self, events: Iterable[object]) -> list[object]:
        """Apply ``events``; return those that changed something or report a failure.

        An ACL equal to the one held, or for a document not held, changes nothing: the indexer
        drops those too, so tests see what a run really did.
        """
        effective: list[object] = []
        for event in events:
            if isinstance(event, DocumentUpserted):
                doc = event.document
                self.docs[doc.external_id] = (doc.title, doc.body, doc.acl)
                self.versions[doc.external_id] = doc.version
                self.failed.discard(doc.external_id)
            elif isinstance(event, DocumentDeleted):
                self.docs.pop(event.external_id, None)
            elif isinstance(event, PermissionsChanged):
                held = self.docs.get(event.external_id)
                if held is None or held[2] == event.acl:
                    continue
                self.docs[event.external_id] = (held[0], held[1], event.acl)
            elif isinstance(event, DocumentFailed):
                self.failed.add(event.external_id)
            elif isinstance(event, CheckpointReached):
                self.checkpoint = event.checkpoint
            effective.append(event)
        return effective

    def sync(self, source: FolderConnector) -> list[object]:
        self.failed = set()  # what is failing now: a run's record lists only its own failures
        return self.apply(source.changes(self.checkpoint, self))


def kinds(events: Iterable[object]) -> list[tuple[str, str]]:
    """(kind, external id) of every event but checkpoints, for compact assertions."""
    pairs: list[tuple[str, str]] = []
    for event in events:
        if isinstance(event, DocumentUpserted):
            pairs.append((event.kind, event.document.external_id))
        elif isinstance(event, DocumentDeleted | PermissionsChanged | DocumentFailed):
            pairs.append((event.kind, event.external_id))
    return pairs


def upserted(events: Iterable[object]) -> dict[str, DocumentUpserted]:
    return {
        event.document.external_id: event for event in events if isinstance(event, DocumentUpserted)
    }
