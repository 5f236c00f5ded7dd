"""Issue 7's leaks on the sync side: a revocation or deletion must reach search on the next run,
whatever happened before it (a permissions run, a rejected write, a poisoned file, broken group
data). Each test is the probe's reproduction, on both backends, checked as a user would see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.principals import org, user
from indexer.backends import Stores
from indexer.records import DocumentWrite, SearchFilters, WriteFailure, WriteResult
from indexer.runner import RunType
from schedules.settings import SourceSchedule
from tests.indexer.conftest import SOURCE, MakeRunner, Tree

ANY = SearchFilters()
ORG = org("acme")


def principals(email: str, *groups: str) -> frozenset[str]:
    """What the resolver gives a member of acme (example.com is a verified domain)."""
    return frozenset({user(email), ORG, *(f"group:{SOURCE}:{g}" for g in groups)})


ALICE = principals("alice@example.com", "eng")
BOB = principals("bob@example.com", "eng")


def found(stores: Stores, query: str, caller: frozenset[str]) -> set[str]:
    stores.index.refresh()
    return {hit.external_id for hit in stores.index.keyword_search(query, caller, ANY, k=50)}


def test_revocation_after_a_permissions_run_is_applied_by_the_next_incremental(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    # Item 1: the folder connector compared ACLs with what its last incremental run sent, so
    # an ACL a permissions run had applied in between was never taken back.
    tree.acl("", ["alice@example.com"])
    tree.write("plan.txt", "The reorganisation plan for next quarter.")
    runner = make_runner()
    assert runner.run(RunType.incremental).status == "succeeded"
    tree.acl("", ["alice@example.com", "bob@example.com"])
    assert runner.run(RunType.permissions).status == "succeeded"
    assert found(stores, "reorganisation", BOB) == {"plan.txt"}

    tree.acl("", ["alice@example.com"])  # reverted
    record = runner.run(RunType.incremental)

    assert record.status == "succeeded", record.message
    assert record.counts.acl_updated == 1
    assert found(stores, "reorganisation", BOB) == set()
    assert found(stores, "reorganisation", ALICE) == {"plan.txt"}


def test_a_poisoned_document_is_recorded_and_the_run_still_applies_deletions(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    # Item 4: a lone surrogate from a YAML escape in front matter crashed every run.
    tree.acl("", ["alice@example.com"])
    tree.write("doomed.txt", "Severance terms for the closing office.")
    runner = make_runner()
    assert runner.run(RunType.incremental).status == "succeeded"
    tree.write("poisoned.md", '---\ntitle: "bad \\ud800 title"\n---\n# Notes\n\nSeverance.\n')
    tree.remove("doomed.txt")

    for run_type in (RunType.incremental, RunType.full):
        record = runner.run(run_type)
        assert record.status == "succeeded", record.message
        assert [e.doc_id for e in record.errors] == [f"{SOURCE}:poisoned.md"]
        assert "Unicode" in record.errors[0].reason
        assert found(stores, "severance", ALICE) == set()


class RejectingIndex:
    """The real backend, except that it rejects the writes of the documents named in ``reject``,
    as OpenSearch does for a mapping error (per item, the rest of the bulk goes through)."""

    def __init__(self, inner: Any, reject: set[str]) -> None:
        self._inner = inner
        self.reject = reject

    def write_documents(self, writes: Sequence[DocumentWrite]) -> WriteResult:
        kept = [w for w in writes if w.doc_id not in self.reject]
        result = self._inner.write_documents(kept)
        for write in writes:
            if write.doc_id in self.reject:
                result.failed.append(WriteFailure(doc_id=write.doc_id, reason="mapper_parsing"))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_rejected_write_still_applies_the_narrower_acl_and_stays_failed_until_written(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    # Item 6: content and ACL changed together, the index rejected the write: the old, wider
    # ACL stayed, and the failure vanished from later run records.
    tree.acl("", ["alice@example.com", "bob@example.com"])
    tree.write("memo.txt", "Budget memo: travel is frozen.")
    assert make_runner().run(RunType.incremental).status == "succeeded"
    tree.acl("", ["alice@example.com"])
    tree.write("memo.txt", "Budget memo: travel is frozen, and so is hiring.")
    rejecting = Stores(
        index=RejectingIndex(stores.index, {f"{SOURCE}:memo.txt"}),
        state=stores.state,
        directory=stores.directory,
    )
    runner = make_runner(on=rejecting)

    for _ in range(2):  # the failure is recorded on every run until the document is written
        record = runner.run(RunType.incremental)
        assert [e.doc_id for e in record.errors] == [f"{SOURCE}:memo.txt"]
        assert found(stores, "budget memo", BOB) == set()
        assert found(stores, "budget memo", ALICE) == {"memo.txt"}
        assert found(stores, "hiring", ALICE) == set()  # the old text, under the new ACL

    record = make_runner().run(RunType.incremental)
    assert record.errors == []
    assert found(stores, "hiring", ALICE) == {"memo.txt"}


GROUPS = "groups:\n  eng: [alice@example.com, bob@example.com]\n"


def test_a_member_removed_from_a_group_loses_layered_access_after_one_groups_run(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    # Item 10: layered ACLs froze memberships into user principals, so only a later
    # permissions run revoked; a groups run alone changed nothing.
    tree.write(".permindex-groups.yaml", GROUPS)
    tree.acl("", ["org"])
    tree.acl("eng", ["group:eng"])  # layered: org AND eng
    tree.write("eng/design.txt", "Design review of the ingestion service.")
    runner = make_runner()
    assert runner.run(RunType.groups).status == "succeeded"
    assert runner.run(RunType.incremental).status == "succeeded"
    assert found(stores, "ingestion", principals("bob@example.com")) == {"eng/design.txt"}

    tree.write(".permindex-groups.yaml", "groups:\n  eng: [alice@example.com]\n")
    record = runner.run(RunType.groups)

    assert record.status == "succeeded", record.message
    assert found(stores, "ingestion", principals("bob@example.com")) == set()
    assert found(stores, "ingestion", principals("alice@example.com")) == {"eng/design.txt"}
    assert stores.directory.members_of(f"group:{SOURCE}:eng") == {user("alice@example.com")}


def test_default_schedules_revoke_within_minutes() -> None:
    schedule = SourceSchedule()
    for interval in (schedule.incremental, schedule.permissions, schedule.groups):
        assert interval is not None and interval.total_seconds() <= 15 * 60


def test_a_broken_groups_file_still_lets_deletions_and_narrowings_through(
    tree: Tree, stores: Stores, make_runner: MakeRunner
) -> None:
    # Item 11: an unparsable groups file made every run type exit 1, so a revoked and a
    # deleted document both stayed visible.
    tree.write(".permindex-groups.yaml", GROUPS)
    tree.acl("", ["alice@example.com", "bob@example.com"])
    tree.acl("eng", ["group:eng"])
    tree.write("revoked.txt", "Quarterly forecast for the board.")
    tree.write("deleted.txt", "Quarterly forecast draft, to be removed.")
    tree.write("eng/notes.txt", "Quarterly forecast notes of engineering.")
    runner = make_runner()
    assert runner.run(RunType.groups).status == "succeeded"
    assert runner.run(RunType.incremental).status == "succeeded"
    bob = principals("bob@example.com", "eng")
    assert found(stores, "quarterly forecast", bob) == {
        "revoked.txt",
        "deleted.txt",
        "eng/notes.txt",
    }

    tree.write(".permindex-groups.yaml", "groups:\n  eng: [alice@example.com\n")  # broken
    tree.acl("", ["alice@example.com"])
    tree.remove("deleted.txt")
    record = runner.run(RunType.incremental)

    assert record.status == "succeeded", record.message
    assert record.counts.deleted == 1
    # eng/notes.txt needs eng's members to intersect its two layers: hidden, and recorded
    assert [e.doc_id for e in record.errors] == [f"{SOURCE}:eng/notes.txt"]
    assert ".permindex-groups.yaml" in record.errors[0].reason
    assert found(stores, "quarterly forecast", bob) == set()

    groups = runner.run(RunType.groups)
    assert groups.status == "failed"
    assert "group memberships cleared" in (groups.message or "")
    assert stores.directory.members_of(f"group:{SOURCE}:eng") == set()
