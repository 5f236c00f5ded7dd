"""Turn the bytes of one file into title, body and metadata, by extension.

Markdown and HTML bodies stay raw (the indexer chunks them structure-aware); PDFs yield their
extracted text. Text formats must be UTF-8: guessing an encoding would index mojibake silently.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml
from bs4 import BeautifulSoup
from pypdf import PdfReader

from connectors.documents import MetadataValue

CONTENT_TYPES = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
}


class ParseError(Exception):
    """The file cannot be turned into a document; the message is the recorded reason."""


@dataclass(frozen=True)
class Parsed:
    body: str
    content_type: str
    title: str | None = None
    author: str | None = None
    metadata: dict[str, MetadataValue] = field(default_factory=dict)


def parse(suffix: str, data: bytes) -> Parsed:
    content_type = CONTENT_TYPES[suffix]
    if content_type == "application/pdf":
        return _parse_pdf(data)
    text = _decode(data)
    if content_type == "text/markdown":
        return _parse_markdown(text)
    if content_type == "text/html":
        return _parse_html(text)
    return Parsed(body=text, content_type=content_type)


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not valid UTF-8 (byte {exc.start})") from exc
    if "\x00" in text:
        raise ParseError("contains NUL bytes (binary content)")
    return text


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)[ \t]*#*[ \t]*$")
_SETEXT_H1 = re.compile(r"^ {0,3}=+[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _parse_markdown(text: str) -> Parsed:
    metadata: dict[str, MetadataValue] = {}
    title: str | None = None
    author: str | None = None
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            front = yaml.safe_load(match.group(1) or "") or {}
        except yaml.YAMLError as exc:
            raise ParseError(f"invalid YAML front matter: {exc}") from exc
        if not isinstance(front, dict):
            raise ParseError("YAML front matter must be a mapping")
        text = text[match.end() :]
        for key, value in front.items():
            converted = _metadata_value(value)
            if converted is None:
                continue
            if key == "title" and isinstance(converted, str):
                title = converted
            elif key == "author" and isinstance(converted, str):
                author = converted
            else:
                metadata[str(key)] = converted
    return Parsed(
        body=text,
        content_type="text/markdown",
        title=title or _markdown_h1(text),
        author=author,
        metadata=metadata,
    )


def _metadata_value(value: Any) -> MetadataValue | None:
    """Front matter values the index can store; nested mappings are dropped."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return [str(item) for item in value]
    return None


def _markdown_h1(text: str) -> str | None:
    in_fence = False
    previous = ""
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            previous = ""
            continue
        if in_fence:
            continue
        atx = _ATX_H1.match(line)
        if atx:
            return atx.group(1).strip()
        if previous.strip() and _SETEXT_H1.match(line):
            return previous.strip()
        previous = line
    return None


def _parse_html(text: str) -> Parsed:
    soup = BeautifulSoup(text, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if not title:
        heading = soup.find("h1")
        title = heading.get_text(" ", strip=True) if heading else ""
    author_tag = soup.find("meta", attrs={"name": "author"})
    author = author_tag.get("content") if author_tag else None
    return Parsed(
        body=text,
        content_type="text/html",
        title=title or None,
        author=author if isinstance(author, str) and author.strip() else None,
    )


def _parse_pdf(data: bytes) -> Parsed:
    # pypdf raises a wide range of exception types on malformed input (PdfReadError, KeyError,
    # ValueError, struct errors...): any of them means "this file is broken", not
    # a systemic failure.
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        title = info.title if info is not None else None
        author = info.author if info is not None else None
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"unreadable PDF: {type(exc).__name__}: {exc}") from exc
    body = "\n\n".join(page.strip() for page in pages if page.strip())
    if not body:
        raise ParseError("PDF has no extractable text (scanned images?)")
    return Parsed(
        body=body,
        content_type="application/pdf",
        title=str(title).strip() or None if title else None,
        author=str(author).strip() or None if author else None,
    )
