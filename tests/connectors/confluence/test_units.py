"""Storage-format text, configuration, and CQL windows in the API user's timezone."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta

from connectors.confluence.storage_text import storage_to_text
from connectors.events import DocumentUpserted
from connectors.org import OrgPolicy
from connectors.registry import build_connector, parse_source
from tests.connectors.confluence.helpers import connector
from tests.emulators.confluence import ConfluenceEmulator

STORAGE = (
    "<h2>Deploy</h2><p>Run it <ac:emoticon ac:name='tick' ac:emoji-fallback='✅'/></p>"
    "<ol><li>build<ul><li>test</li></ul></li></ol>"
    "<table><tbody><tr><th>Env</th><th>Host</th></tr><tr><td>prod</td><td>p1</td></tr>"
    "</tbody></table>"
    "<ac:structured-macro ac:name='code'><ac:parameter ac:name='language'>bash</ac:parameter>"
    "<ac:plain-text-body><![CDATA[make deploy]]></ac:plain-text-body></ac:structured-macro>"
    "<ac:structured-macro ac:name='toc'><ac:parameter ac:name='maxLevel'>2</ac:parameter>"
    "</ac:structured-macro>"
    "<p>Ask <ac:link><ri:user ri:account-id='5b1'/><ac:plain-text-link-body>"
    "<![CDATA[Dana]]></ac:plain-text-link-body></ac:link>, see "
    "<ac:link><ri:attachment ri:filename='plan.pdf'/></ac:link></p>"
)


def test_storage_format_keeps_structure_and_handles_confluence_elements() -> None:
    text = storage_to_text(STORAGE)
    assert text.splitlines() == [
        "## Deploy",
        "",
        "Run it ✅",
        "",
        "1. build",
        "  - test",
        "",
        "| Env | Host |",
        "|---|---|",
        "| prod | p1 |",
        "",
        "```bash",
        "make deploy",
        "```",
        "",
        "Ask @Dana, see [attachment: plan.pdf]",
    ]
    assert "maxLevel" not in text and "2" not in text.split("```")[-1]


def test_a_confluence_source_is_configured_with_secret_references(
    site: ConfluenceEmulator, tmp_path: object, monkeypatch: object
) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("CONF_OAUTH", site.state.bearer_token)
    settings = parse_source(
        {
            "type": "confluence",
            "id": "wiki",
            "base_url": site.url,
            "auth": {"bearer_token": {"env": "CONF_OAUTH"}},
            "spaces_deny": ["HR"],
        }
    )
    assert site.state.bearer_token not in repr(settings)
    built = build_connector(settings, OrgPolicy(tenant="acme"), lambda: site.state.now)
    built.validate()
    titles = {e.document.title for e in built.changes(None) if isinstance(e, DocumentUpserted)}
    assert "Runbook" in titles and "Handbook" not in titles  # HR denied


class Indexed:
    """The index after the first run: what it holds and at which versions."""

    full = False

    def __init__(self, documents: list[DocumentUpserted]) -> None:
        self.stop = threading.Event()
        self.versions = {e.document.external_id: e.document.version or "" for e in documents}

    def heartbeat(self) -> None:
        return None

    def indexed_versions(self, external_ids: Sequence[str]) -> Mapping[str, str]:
        return {i: self.versions[i] for i in external_ids if i in self.versions}

    def indexed_ids(self) -> Iterator[str]:
        return iter(sorted(self.versions))


def test_windows_are_written_in_the_api_users_timezone(site: ConfluenceEmulator) -> None:
    # UTC-8 in November: a window written in UTC would start 8 hours late and miss the edit.
    site.state.timezone = "America/Los_Angeles"
    conn = connector(site, page_size=50, overlap=timedelta(minutes=1))
    conn.validate()
    events = list(conn.changes(None))
    checkpoint = [e for e in events if e.kind == "checkpoint"][-1].checkpoint
    runbook = next(c.id for c in site.state.contents.values() if c.title == "Runbook")
    site.tick(30)
    site.edit(runbook, "<p>Edited at lunch</p>")
    index = Indexed([e for e in events if isinstance(e, DocumentUpserted)])
    again = [e for e in conn.changes(checkpoint, index) if isinstance(e, DocumentUpserted)]
    assert [e.document.title for e in again] == ["Runbook"]
