"""The text of a Drive file: Google Docs and Slides exported as text, Sheets as XLSX, PDF and
Office files extracted with pypdf, python-docx, openpyxl and python-pptx, plain text decoded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

DOCS = "application/vnd.google-apps.document"
SLIDES = "application/vnd.google-apps.presentation"
SHEETS = "application/vnd.google-apps.spreadsheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
PDF = "application/pdf"

# Google-native type -> the export format whose text is indexed. A Sheet's CSV export holds
# its first sheet only; the XLSX export holds every sheet.
EXPORTS = {DOCS: "text/plain", SLIDES: "text/plain", SHEETS: XLSX}
# A workbook within the export limit may still unpack to far more text (XLSX is zipped XML).
MAX_WORKBOOK_CHARS = 20_000_000
_TEXT_TYPES = ("application/json", "application/xml", "application/x-yaml", "application/csv")


class UnreadableContent(ValueError):
    """The bytes are not what their type says (a broken PDF, a corrupt Office file)."""


@dataclass(frozen=True)
class Plan:
    """How to get a file's text: export to ``export_as``, or download (``export_as`` None)."""

    export_as: str | None


def plan_for(mime_type: str) -> Plan | None:
    """None for types without indexable text (images, folders, forms, shortcuts)."""
    if mime_type in EXPORTS:
        return Plan(EXPORTS[mime_type])
    if mime_type.startswith("application/vnd.google-apps."):
        return None
    if mime_type in (PDF, DOCX, XLSX, PPTX) or is_text(mime_type):
        return Plan(None)
    return None


def is_text(mime_type: str) -> bool:
    return mime_type.startswith("text/") or mime_type in _TEXT_TYPES


def extract(mime_type: str, data: bytes, *, max_workbook_chars: int = MAX_WORKBOOK_CHARS) -> str:
    try:
        if mime_type == PDF:
            return _pdf(data)
        if mime_type == DOCX:
            return _docx(data)
        if mime_type == XLSX:
            return _xlsx(data, max_workbook_chars)
        if mime_type == PPTX:
            return _pptx(data)
    except UnreadableContent:
        raise
    except Exception as exc:  # the libraries raise many types for a corrupt file
        raise UnreadableContent(f"cannot read {mime_type}: {type(exc).__name__}") from None
    return data.decode("utf-8", errors="replace")


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _docx(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        lines += ["\t".join(cell.text for cell in row.cells) for row in table.rows]
    return "\n".join(lines)


def _xlsx(data: bytes, max_chars: int) -> str:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    lines: list[str] = []
    size = 0
    try:
        for sheet in book.worksheets:
            lines.append(sheet.title)
            for row in sheet.iter_rows(values_only=True):
                line = ",".join("" if v is None else str(v) for v in row)
                size += len(line) + 1
                if size > max_chars:
                    raise UnreadableContent(
                        f"skipped: its sheets hold over {max_chars} characters of text"
                    )
                lines.append(line)
    finally:
        book.close()
    return "\n".join(lines)


def _pptx(data: bytes) -> str:
    import pptx

    deck = pptx.Presentation(io.BytesIO(data))
    lines: list[str] = []
    for slide in deck.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                lines.append(shape.text_frame.text)
    return "\n".join(lines)
