"""Incremental and full runs over the folder connector, checked through what a user would see."""

from __future__ import annotations

from connectors.principals import user
from indexer.backends import Stores
from indexer.records import SearchFilters
from indexer.runner import RunType
from tests.indexer.conftest import SOURCE, MakeRunner, Tree

ALICE = frozenset({user("alice@example.com")})
BOB = frozenset({user("bob@example.com")})
ANY = SearchFilters()


def found(stores: Stores, query: str, principals: frozenset[str]) -> set[str]:
    stores.index.refresh()
    return {hit.external_id for hit in stores.index.keyword_search(query, principals, ANY, k=50)}


def chunk_texts(stores: Stores, external_id: str, principals: frozenset[str]) -> list[str]:
    stores.index.refresh()
    return [h.text for h in stores.index.get_document_chunks(f"{SOURCE}:{external_id}", principals)]


def test_creates_updates_deletes_and_moves_are_picked_up(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    tree.acl("", ["alice@example.com"])
    tree.write("travel.md", "# Travel\n\nTrains are preferred over planes.")
    tree.write("meals.txt", "Meals are reimbursed up to forty euros.")
    tree.write("old/hotels.txt", "Hotels must be booked through the portal.")
    runner = make_runner()

    first = runner.run(RunType.incremental)
    assert first.status == "succeeded", first.message
    assert first.counts.created == 3
    assert found(stores, "trains", ALICE) == {"travel.md"}

    tree.write("meals.txt", "Meals are reimbursed up to fifty euros, receipts required.")
    tree.remove("travel.md")
    tree.move("old/hotels.txt", "new/hotels.txt")
    tree.write("parking.txt", "Parking is free on site.")
    second = runner.run(RunType.incremental)

    assert second.status == "succeeded", second.message
    assert (second.counts.created, second.counts.updated, second.counts.deleted) == (2, 1, 2)
    assert found(stores, "trains", ALICE) == set()
    assert found(stores, "fifty", ALICE) == {"meals.txt"}
    assert found(stores, "forty", ALICE) == set()
    assert found(stores, "hotels portal", ALICE) == {"new/hotels.txt"}
    assert found(stores, "parking", ALICE) == {"parking.txt"}


def test_a_run_with_nothing_changed_embeds_nothing(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    tree.acl("", ["org"])
    for i in range(5):
        tree.write(f"page-{i}.txt", f"Page {i} of the handbook. " * 20)
    runner = make_runner()
    assert runner.run(RunType.incremental).counts.chunks_embedded > 0

    again = runner.run(RunType.incremental)
    assert again.status == "succeeded"
    assert again.counts.chunks_embedded == 0
    assert again.counts.created == again.counts.updated == 0

    full = runner.run(RunType.full)
    assert full.status == "succeeded", full.message
    assert full.counts.chunks_embedded == 0
    assert full.counts.unchanged == 5


def test_acl_only_change_hides_the_document_without_reembedding(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    tree.acl("hr", ["alice@example.com", "bob@example.com"])
    tree.write("hr/salaries.txt", "Salary bands for engineering levels.")
    runner = make_runner()
    runner.run(RunType.incremental)
    assert found(stores, "salary bands", BOB) == {"hr/salaries.txt"}

    tree.acl("hr", ["alice@example.com"])
    record = runner.run(RunType.incremental)

    assert record.status == "succeeded", record.message
    assert record.counts.acl_updated == 1
    assert record.counts.chunks_embedded == 0
    assert found(stores, "salary bands", BOB) == set()
    assert found(stores, "salary bands", ALICE) == {"hr/salaries.txt"}


def test_permissions_run_applies_acl_changes_only(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    tree.acl("", ["alice@example.com", "bob@example.com"])
    tree.write("plan.txt", "The roadmap for next year.")
    tree.write("notes.txt", "Meeting notes.")
    runner = make_runner()
    runner.run(RunType.incremental)

    tree.acl(
        "", ["alice@example.com", "bob@example.com"], files={"plan.txt": ["alice@example.com"]}
    )
    record = runner.run(RunType.permissions)

    assert record.status == "succeeded", record.message
    assert (record.counts.acl_updated, record.counts.unchanged) == (1, 1)
    assert record.counts.chunks_embedded == 0
    assert found(stores, "roadmap", BOB) == set()
    assert found(stores, "roadmap", ALICE) == {"plan.txt"}


def test_a_shrunk_document_leaves_no_stale_chunks(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    tree.acl("", ["alice@example.com"])
    long_text = " ".join(f"Paragraph {i} mentions zebra{i} in passing." for i in range(120))
    tree.write("guide.txt", long_text)
    runner = make_runner()
    runner.run(RunType.incremental)
    assert len(chunk_texts(stores, "guide.txt", ALICE)) > 3

    tree.write("guide.txt", "Now a one-line guide.")
    runner.run(RunType.incremental)

    assert chunk_texts(stores, "guide.txt", ALICE) == ["Now a one-line guide."]
    assert found(stores, "zebra100", ALICE) == set()


def test_a_failing_document_is_recorded_and_the_rest_indexed(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    tree.acl("", ["alice@example.com"])
    tree.write("good.txt", "Perfectly good text about onboarding.")
    tree.write("latin1.txt", "caf\xe9 au lait".encode("latin-1"))  # not UTF-8
    tree.write("huge.txt", "enormous " * 200)
    runner = make_runner(
        chunking=make_runner().chunking.model_copy(update={"max_document_chars": 1000})
    )

    record = runner.run(RunType.incremental)

    assert record.status == "succeeded", record.message
    assert record.counts.created == 1
    assert record.counts.failed == 2
    reasons = {e.doc_id: e.reason for e in record.errors}
    assert set(reasons) == {f"{SOURCE}:latin1.txt", f"{SOURCE}:huge.txt"}
    assert "UTF-8" in reasons[f"{SOURCE}:latin1.txt"]
    assert "max_document_chars" in reasons[f"{SOURCE}:huge.txt"]
    assert found(stores, "onboarding", ALICE) == {"good.txt"}
    assert stores.state.get_checkpoint(SOURCE) is not None
    saved = stores.state.recent_runs(SOURCE, limit=1)[0]
    assert saved.run_id == record.run_id and len(saved.errors) == 2


def test_full_run_prunes_documents_the_source_no_longer_has(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    tree.acl("", ["alice@example.com"])
    tree.write("keep.txt", "Keep this document about vacations.")
    tree.write("gone.txt", "This document about sabbaticals will vanish.")
    runner = make_runner()
    runner.run(RunType.incremental)
    tree.remove("gone.txt")
    # Forget the checkpoint so only the prune can notice the removal.
    lease = stores.state.acquire_lease(SOURCE, "test", runner.lease_ttl, runner.clock())
    stores.state.clear_checkpoint(lease)
    stores.state.release_lease(lease)

    record = runner.run(RunType.full)

    assert record.status == "succeeded", record.message
    assert record.counts.deleted == 1
    assert "pruned 1" in (record.message or "")
    assert found(stores, "sabbaticals", ALICE) == set()
    assert found(stores, "vacations", ALICE) == {"keep.txt"}
    assert stores.state.get_checkpoint(SOURCE) is not None
