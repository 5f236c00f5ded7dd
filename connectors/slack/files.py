"""Files shared in Slack messages: which are readable, and their text.

Text-like files (``text/*``, JSON, YAML, XML, code snippets) are decoded as UTF-8; PDFs give their
pypdf text. Other types (images, archives, office files) are indexed by title and name only: the
name is what a user searches for, and nothing is downloaded for them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pypdf import PdfReader

# Slack's filetype for snippets and code uploads (docs.slack.dev "File types").
_CODE_TYPES = frozenset(
    {
        "text",
        "markdown",
        "post",
        "csv",
        "tsv",
        "json",
        "yaml",
        "xml",
        "python",
        "javascript",
        "typescript",
        "java",
        "go",
        "rust",
        "ruby",
        "php",
        "c",
        "cpp",
        "csharp",
        "kotlin",
        "swift",
        "scala",
        "shell",
        "sql",
        "html",
        "css",
        "diff",
        "dockerfile",
        "toml",
        "ini",
    }
)
_TEXT_MIMETYPES = frozenset(
    {"application/json", "application/xml", "application/x-yaml", "application/yaml"}
)
PDF = "application/pdf"


class UnreadableFile(Exception):
    """The bytes cannot be turned into text; the message is the recorded reason."""


@dataclass(frozen=True)
class SharedFile:
    id: str
    name: str
    title: str
    mimetype: str
    filetype: str
    size: int | None
    url: str | None
    permalink: str | None
    external: bool
    mode: str
    user: str
    created: int
    shared_ts: str

    @classmethod
    def of(cls, raw: Mapping[str, Any], shared_ts: str) -> SharedFile:
        size = raw.get("size")
        return cls(
            id=str(raw["id"]),
            name=str(raw.get("name") or ""),
            title=str(raw.get("title") or raw.get("name") or raw["id"]),
            mimetype=str(raw.get("mimetype") or ""),
            filetype=str(raw.get("filetype") or ""),
            size=int(size) if isinstance(size, int) else None,
            url=str(raw.get("url_private_download") or raw.get("url_private") or "") or None,
            permalink=str(raw.get("permalink") or "") or None,
            external=bool(raw.get("is_external")),
            mode=str(raw.get("mode") or ""),
            user=str(raw.get("user") or ""),
            created=int(raw.get("created") or raw.get("timestamp") or float(shared_ts)),
            shared_ts=shared_ts,
        )

    @property
    def gone(self) -> bool:
        """Deleted (a tombstone) or hidden by a free workspace's limit: not readable now."""
        return self.mode in ("tombstone", "hidden_by_limit")

    @property
    def has_text(self) -> bool:
        return (
            self.mimetype.startswith("text/")
            or self.mimetype in _TEXT_MIMETYPES
            or self.mimetype == PDF
            or self.filetype in _CODE_TYPES
            or self.filetype == "pdf"
        )


def files_of(message: Mapping[str, Any]) -> list[SharedFile]:
    """The files of a message that have an id (a deleted one keeps its id, mode tombstone)."""
    ts = str(message["ts"])
    return [SharedFile.of(f, ts) for f in message.get("files") or [] if f.get("id")]


def text_of(file: SharedFile, data: bytes) -> str:
    if file.mimetype == PDF or file.filetype == "pdf":
        return _pdf_text(data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not valid UTF-8 (byte {exc.start})") from exc


def _pdf_text(data: bytes) -> str:
    # pypdf raises many exception types on malformed input; each means this file is broken.
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFile("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnreadableFile:
        raise
    except Exception as exc:
        raise UnreadableFile(f"unreadable PDF: {type(exc).__name__}: {exc}") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip())
