"""Prune dry-run and retention: what a prune would delete and why, what retention drops."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.events import ListingEvent
from indexer.backends import Stores
from indexer.embedding import Embedder
from indexer.operations.prune_preview import preview_prune
from indexer.operations.retention import apply_retention, set_retention
from indexer.retry import RetryPolicy
from indexer.runner import SyncRunner
from indexer.settings import ChunkingSettings
from tests.conformance.builders import ALICE
from tests.connectors.scripted import Doc, ScriptedConnector
from tests.operations.helpers import HashEmbedder, doc_ids, found, write_docs


def _now() -> datetime:
    return datetime.now(UTC)


def _listing(listed: range, scopes: list[str] | None = None) -> ScriptedConnector:
    docs = {
        f"d{i}": Doc(scope="a" if i % 2 else "b", body="x", acl=frozenset({ALICE})) for i in listed
    }
    return ScriptedConnector(source_id="wiki", docs=docs, scopes=scopes or ["a", "b"])


def test_dry_run_lists_unlisted_and_expired_documents_and_deletes_nothing(stores: Stores) -> None:
    now = _now()
    write_docs(stores, "wiki", 6, updated_at=now - timedelta(days=400))  # d0..d5, old
    write_docs(stores, "wiki", 6, start=6, updated_at=now - timedelta(days=2))  # d6..d11
    set_retention(stores, "wiki", 90, by="ops", now=now)
    everything = doc_ids(stores, "wiki")

    preview = preview_prune(_listing(range(3, 10)), stores, clock=_now)

    reasons = {c.doc_id: c.reason for c in preview.candidates}
    assert {d for d, r in reasons.items() if "no longer names" in r} == {
        "wiki:d0",
        "wiki:d1",
        "wiki:d2",
        "wiki:d10",
        "wiki:d11",
    }
    assert {d for d, r in reasons.items() if "retention 90 days" in r} == {
        "wiki:d3",
        "wiki:d4",
        "wiki:d5",
    }
    assert (preview.not_listed, preview.expired) == (5, 3)
    assert doc_ids(stores, "wiki") == everything  # a dry run

    report = apply_retention(stores, "wiki", clock=_now)
    assert report.deleted == 6  # d0..d5: past the retention whether listed or not
    assert found(stores, "wiki") == everything - {f"wiki:d{i}" for i in range(6)}
    assert stores.state.recent_runs("wiki", limit=1)[0].run_type == "retention"


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_an_incomplete_listing_or_failed_scope_previews_no_deletion(stores: Stores) -> None:
    write_docs(stores, "wiki", 6)
    connector = _listing(range(0, 5))
    connector.failing_scopes = {"b"}
    preview = preview_prune(connector, stores, clock=_now)
    # Scope b failed: its documents (even numbers) are kept; d5, gone from scope a, would go.
    assert {c.doc_id for c in preview.candidates} == {"wiki:d5"}
    assert "b" in preview.kept_scopes

    class Broken(ScriptedConnector):
        def list_live_ids(self) -> Iterator[ListingEvent]:
            yield from ()
            raise RuntimeError("listing timed out")

    broken = Broken(source_id="wiki", docs={}, scopes=["a"])
    preview = preview_prune(broken, stores, clock=_now)
    assert preview.candidates == [] and not preview.listing_completed
    assert "listing incomplete" in preview.message


@pytest.mark.parametrize("backend_kind", ["embedded"])
@pytest.mark.parametrize("dimension", [8])
def test_deletions_from_the_sources_own_retention_are_applied(stores: Stores) -> None:
    # The source purges a document under its own retention policy: incremental runs hear
    # nothing of it (no event), and the next prune run removes it because it is no longer listed.
    connector = _listing(range(4))
    embedder: Embedder = HashEmbedder(8)

    def run(kind: str) -> None:
        SyncRunner(
            connector,
            stores,
            embedder,
            chunking=ChunkingSettings(),
            model_name="hash",
            clock=_now,
            retry=RetryPolicy(attempts=1),
        ).run(kind)

    run("incremental")
    assert doc_ids(stores, "wiki") == {f"wiki:d{i}" for i in range(4)}
    del connector.docs["d1"]
    run("incremental")
    assert "wiki:d1" in doc_ids(stores, "wiki")
    preview = preview_prune(connector, stores, clock=_now)
    assert [c.doc_id for c in preview.candidates] == ["wiki:d1"]
    run("prune")
    assert doc_ids(stores, "wiki") == {"wiki:d0", "wiki:d2", "wiki:d3"}
