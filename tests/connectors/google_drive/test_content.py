"""What text of which Drive files users find: exports, Office files, PDF; limits and failures
recorded without stopping the run; expired and deleted grants admit nobody."""

from __future__ import annotations

import io

import docx
import openpyxl
import pptx

from connectors.google_drive.content import DOCX, PDF, PPTX, XLSX
from indexer.runner import RunType
from tests.connectors.google_drive.workspace import ALICE, BOB, DAVE, Workspace


def docx_bytes(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes(text: str) -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["quarter", text])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pptx_bytes(text: str) -> bytes:
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = text
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def pdf_bytes(text: str) -> bytes:
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def test_office_files_pdf_and_native_documents_are_searchable_by_their_text(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    eng = drive.add_drive("Engineering", {ALICE: "organizer"})
    drive.add_file("Letter.docx", docx_bytes("the capybara letter"), drive=eng, mime=DOCX)
    drive.add_file("Figures.xlsx", xlsx_bytes("capybara revenue"), drive=eng, mime=XLSX)
    drive.add_file("Deck.pptx", pptx_bytes("capybara strategy"), drive=eng, mime=PPTX)
    drive.add_file("Report.pdf", pdf_bytes("capybara audit"), drive=eng, mime=PDF)
    drive.add_file(
        "Minutes", "capybara minutes", drive=eng, mime="application/vnd.google-apps.document"
    )

    assert ws.run(RunType.full).status == "succeeded"

    assert ws.found("capybara", ALICE) == {
        "Letter.docx",
        "Figures.xlsx",
        "Deck.pptx",
        "Report.pdf",
        "Minutes",
    }


def test_oversized_and_corrupt_files_are_recorded_and_the_run_goes_on(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    eng = drive.add_drive("Engineering", {ALICE: "organizer"})
    big = drive.add_file("Huge.txt", "walrus " * 400, drive=eng)
    broken = drive.add_file("Broken.pdf", b"%PDF-1.4 walrus not really", drive=eng, mime=PDF)
    drive.add_file("Small.txt", "walrus small", drive=eng)

    record = ws.run(RunType.full, max_file_bytes=1000)

    assert record.status == "succeeded", record.message
    failed = {e.doc_id.rsplit("/", 1)[1]: e.reason for e in record.errors}
    assert set(failed) == {big, broken}
    assert "limit" in failed[big]
    assert ws.found("walrus", ALICE) == {"Small.txt"}


def test_expired_and_deleted_grants_admit_nobody(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    drive.add_file(
        "Offer",
        "narwhal offer letter",
        owner=BOB,
        grants=[
            drive.grant(type="user", email=DAVE, expires="2020-01-01T00:00:00.000Z"),
            drive.grant(type="user", email=ALICE, deleted=True),
        ],
    )
    assert ws.run(RunType.full).status == "succeeded"
    assert ws.found("narwhal", BOB) == {"Offer"}
    assert ws.found("narwhal", DAVE) == set()
    assert ws.found("narwhal", ALICE) == set()
