"""What a folder source turns each file type into."""

from datetime import UTC, datetime

from connectors.events import DocumentFailed
from tests.connectors.folder_helpers import connector, minimal_pdf, upserted, write

ORG = "allow: [org]\n"


def test_markdown_title_from_h1_body_raw_and_front_matter_as_metadata(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", ORG)
    write(
        tmp_path,
        "guides/setup.md",
        "---\nauthor: Alice\ntags: [onboarding, laptop]\nreviewed: 2024-05-01\n---\n"
        "```\n# not a title\n```\n# Laptop setup\n\nInstall **everything**.\n",
        mtime_ns=1_700_000_000_000_000_000,
    )
    doc = upserted(connector(tmp_path).changes(None))["guides/setup.md"].document
    assert doc.title == "Laptop setup"
    assert doc.body.startswith("```\n# not a title")  # raw Markdown, front matter stripped
    assert doc.author == "Alice"
    assert doc.metadata == {"tags": ["onboarding", "laptop"], "reviewed": "2024-05-01"}
    assert doc.content_type == "text/markdown"
    assert doc.breadcrumbs == ("guides",)
    assert doc.doc_type == "file"
    assert doc.updated_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert doc.url == (tmp_path / "guides/setup.md").as_uri()
    assert doc.acl == {"org:acme"}


def test_setext_heading_and_front_matter_title(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", ORG)
    write(tmp_path, "a.md", "Release notes\n=============\n\ntext\n")
    write(tmp_path, "b.md", "---\ntitle: From front matter\n---\n# Heading\n")
    docs = upserted(connector(tmp_path).changes(None))
    assert docs["a.md"].document.title == "Release notes"
    assert docs["b.md"].document.title == "From front matter"


def test_html_title_and_raw_body(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", ORG)
    html = "<html><head><title> Travel policy </title></head><body><h1>X</h1><p>Fly.</p></body>"
    write(tmp_path, "policy.htm", html)
    write(tmp_path, "untitled.html", "<body><h1>Only a heading</h1></body>")
    docs = upserted(connector(tmp_path).changes(None))
    assert docs["policy.htm"].document.title == "Travel policy"
    assert docs["policy.htm"].document.body == html
    assert docs["policy.htm"].document.content_type == "text/html"
    assert docs["untitled.html"].document.title == "Only a heading"


def test_pdf_text_and_metadata_title(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", ORG)
    write(tmp_path, "reports/q3.pdf", minimal_pdf("Revenue grew", title="Q3 report"))
    write(tmp_path, "reports/plain.pdf", minimal_pdf("No metadata here"))
    docs = upserted(connector(tmp_path).changes(None))
    q3 = docs["reports/q3.pdf"].document
    assert q3.title == "Q3 report"
    assert "Revenue grew" in q3.body
    assert q3.content_type == "application/pdf"
    assert docs["reports/plain.pdf"].document.title == "plain"


def test_text_file_title_is_its_name_and_other_files_are_ignored(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", ORG)
    write(tmp_path, "notes/meeting-2024.txt", "agenda")
    write(tmp_path, "notes/image.png", b"\x89PNG")
    write(tmp_path, "notes/.hidden.md", "# secret draft")
    write(tmp_path, ".git/config.txt", "internal")
    events = list(connector(tmp_path).changes(None))
    docs = upserted(events)
    assert set(docs) == {"notes/meeting-2024.txt"}
    assert docs["notes/meeting-2024.txt"].document.title == "meeting-2024"


def test_base_url_and_configured_doc_type(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", ORG)
    write(tmp_path, "a dir/page one.md", "# One")
    source = connector(tmp_path, base_url="https://wiki.example.com/docs/", doc_type="page")
    doc = upserted(source.changes(None))["a dir/page one.md"].document
    assert doc.url == "https://wiki.example.com/docs/a%20dir/page%20one.md"
    assert doc.doc_type == "page"


def test_broken_files_fail_with_a_reason_and_the_run_goes_on(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", ORG)
    write(tmp_path, "latin1.txt", "café".encode("latin-1"))
    write(tmp_path, "broken.pdf", b"%PDF-1.4\nthis is not a pdf")
    write(tmp_path, "big.md", "x" * 2000)
    write(tmp_path, "bad-front.md", "---\n: [unclosed\n---\n# T\n")
    write(tmp_path, "fine.md", "# Fine")
    events = list(connector(tmp_path, max_file_bytes=1000).changes(None))
    failures = {e.external_id: e.reason for e in events if isinstance(e, DocumentFailed)}
    assert set(failures) == {"latin1.txt", "broken.pdf", "big.md", "bad-front.md"}
    assert "UTF-8" in failures["latin1.txt"]
    assert "PDF" in failures["broken.pdf"]
    assert "limit" in failures["big.md"]
    assert "front matter" in failures["bad-front.md"]
    assert set(upserted(events)) == {"fine.md"}
