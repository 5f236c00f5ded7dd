"""Files shared in Slack channels: their own documents, the channel's readers, deletions, limits."""

from __future__ import annotations

import time

from indexer.runner import RunType
from indexer.state_store import RunRecord
from tests.connectors.slack.workspace import DAY, Harness, seed


def _errors(record: RunRecord) -> dict[str, str]:
    return {e.doc_id.rsplit("/", 1)[1]: e.reason for e in record.errors}


def test_a_text_file_in_a_private_channel_is_found_by_its_members_only(harness: Harness) -> None:
    people, channels = seed(harness.slack)
    harness.slack.share_file(
        channels.secret.id,
        people.carol,
        "terms.md",
        b"# Bluebird terms\n\nThe escrow holdback is fourteen percent.",
        time.time() - DAY,
        mimetype="text/markdown",
        filetype="markdown",
        title="Bluebird term sheet",
    )
    harness.slack.share_file(
        channels.general.id,
        people.bob,
        "floorplan.png",
        b"\x89PNG\r\n\x1a\n",
        time.time() - DAY,
        mimetype="image/png",
        filetype="png",
        title="Office floorplan",
    )
    harness.sync()
    assert harness.found("alice@acme.com", "escrow holdback") == {"Bluebird term sheet"}
    assert harness.found("carol@acme.com", "escrow holdback") == {"Bluebird term sheet"}
    assert harness.found("bob@acme.com", "escrow holdback") == set()
    assert harness.found("gina@acme.com", "escrow holdback") == set()
    assert harness.found("xavier@partner.io", "escrow") == set()
    # A type without text is found by its title and name, nothing downloaded for it.
    assert harness.found("carol@acme.com", "floorplan") == {"Office floorplan"}
    assert harness.found("gina@acme.com", "floorplan") == set()  # #general: she is not in it


def _pdf(text: str) -> bytes:
    """A one-page PDF with ``text`` in Helvetica, built by hand (no PDF writer is installed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def test_a_pdf_is_found_by_its_text(harness: Harness) -> None:
    people, channels = seed(harness.slack)
    harness.slack.share_file(
        channels.eng.id,
        people.bob,
        "forecast.pdf",
        _pdf("gazelle quarterly forecast"),
        time.time(),
        mimetype="application/pdf",
        filetype="pdf",
        title="Q3 forecast",
    )
    harness.sync()
    assert harness.found("gina@acme.com", "gazelle") == {"Q3 forecast"}
    assert harness.found("carol@acme.com", "gazelle") == {"Q3 forecast"}  # public channel
    assert harness.found("xavier@partner.io", "gazelle") == set()


def test_a_deleted_file_leaves_the_index_on_the_next_incremental(harness: Harness) -> None:
    people, channels = seed(harness.slack)
    kept = harness.slack.share_file(
        channels.eng.id, people.alice, "runbook.txt", b"restart the quokka service", time.time()
    )
    gone = harness.slack.share_file(
        channels.eng.id, people.bob, "notes.txt", b"wombat migration checklist", time.time()
    )
    harness.sync()
    assert harness.found("bob@acme.com", "wombat") == {"notes.txt"}
    harness.slack.delete_file(gone.id)
    record = harness.run(RunType.incremental)
    assert record.status == "succeeded", record.message
    assert harness.found("bob@acme.com", "wombat") == set()
    assert harness.found("bob@acme.com", "quokka") == {kept.title}
    assert harness.run(RunType.prune).status == "succeeded"
    assert harness.found("bob@acme.com", "quokka") == {kept.title}


def test_an_oversized_file_is_recorded_as_skipped(harness: Harness) -> None:
    people, channels = seed(harness.slack)
    harness.options["max_file_bytes"] = 1_000
    big = harness.slack.share_file(
        channels.eng.id, people.alice, "dump.csv", b"platypus," * 500, time.time(), filetype="csv"
    )
    harness.sync()
    record = harness.run(RunType.full)
    assert record.status == "succeeded", record.message
    assert "skipped" in _errors(record)[big.id]
    assert "over the 1000" in _errors(record)[big.id]
    assert harness.found("alice@acme.com", "platypus") == set()
    assert harness.slack.calls_of("files.download") == []


def test_a_failing_download_fails_only_that_file(harness: Harness) -> None:
    people, channels = seed(harness.slack)
    broken = harness.slack.share_file(
        channels.general.id, people.bob, "broken.txt", b"narwhal roadmap", time.time()
    )
    harness.slack.share_file(
        channels.general.id, people.carol, "fine.txt", b"axolotl budget", time.time()
    )
    broken.fail_status = 500
    harness.sync()
    record = harness.run(RunType.full)
    assert record.status == "succeeded", record.message
    assert set(_errors(record)) == {broken.id}
    assert "HTTP 500" in _errors(record)[broken.id]
    assert harness.found("bob@acme.com", "axolotl") == {"fine.txt"}
    assert harness.found("bob@acme.com", "narwhal") == set()
    assert len(harness.found("bob@acme.com", "pizza")) == 1  # the channel's messages too
    # Once the download works again the file is indexed; prune never removed anything.
    broken.fail_status = None
    assert harness.run(RunType.incremental).status == "succeeded"
    assert harness.found("bob@acme.com", "narwhal") == {"broken.txt"}


def test_a_file_shared_in_two_channels_is_readable_through_each_and_leaves_with_one(
    harness: Harness,
) -> None:
    people, channels = seed(harness.slack)
    file = harness.slack.share_file(
        channels.secret.id, people.carol, "plan.txt", b"capybara launch plan", time.time()
    )
    message = harness.slack.post(channels.eng.id, people.alice, "see the plan", time.time())
    message.files.append(file)
    harness.sync()
    assert harness.found("carol@acme.com", "capybara") == {"plan.txt"}  # #secret only
    assert harness.found("gina@acme.com", "capybara") == {"plan.txt"}  # #eng only
    assert harness.found("dave@acme.com", "capybara") == set()
    harness.slack.delete(channels.eng.id, message.ts)  # unshared from #eng
    assert harness.run(RunType.incremental).status == "succeeded"
    assert harness.found("gina@acme.com", "capybara") == set()
    assert harness.found("carol@acme.com", "capybara") == {"plan.txt"}
