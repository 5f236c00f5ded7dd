"""``permindex access diff``: what became visible or hidden for a person since a time, from the
access journal the indexer writes beside every ACL and membership change.

Sources are run by the real runner (content, permissions, prune and groups runs) on an injected
clock; the diff is checked against what search serves now and against an oracle that replays
the same changes."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.contract import Capabilities
from connectors.directory import GroupMembership
from connectors.org import OrgPolicy
from indexer.access_journal import access_journal_for, configure_access_journal
from indexer.backends import Stores
from indexer.backends.embedded import open_embedded
from indexer.embedding import HashingEmbedder
from indexer.operations.delete_source import delete_source
from indexer.operations.retention import apply_retention, set_retention
from indexer.retry import RetryPolicy
from indexer.runner import SyncRunner
from indexer.settings import ChunkingSettings, EmbeddedSettings
from indexer.state_store import RunRecord
from permindex.config import load_config
from retrieval.access.diff import AccessDiff, DiffUnavailableError, access_diff
from retrieval.access.explain import search_visible
from retrieval.audit import AuditRecord
from retrieval.identity import IdentityResolver
from retrieval.searcher import Searcher
from retrieval.service.admin_access import access_router
from retrieval.service.app import create_app
from retrieval.service.keys import ApiKeyStore, Capability, create_key
from retrieval.service.settings import ServiceSettings
from retrieval.settings import RetrievalSettings
from tests.cli.workspace import FOLDER_CONFIG, run_cli
from tests.connectors.scripted import Doc, ScriptedConnector

ORG = OrgPolicy(tenant="acme", domains=frozenset({"acme.com"}))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DIMENSION = 8
EMBEDDER = HashingEmbedder(DIMENSION)
embedded_only = pytest.mark.parametrize("backend_kind", ["embedded"])


@dataclasses.dataclass
class GroupedSource(ScriptedConnector):
    """The scripted source with group memberships of its own (``group:s:<name>``)."""

    memberships: dict[str, set[str]] = dataclasses.field(default_factory=dict)

    capabilities = Capabilities(
        incremental=True, listing=True, permissions_refresh=True, groups=True
    )

    def groups(self) -> Iterator[GroupMembership]:
        for group, members in sorted(self.memberships.items()):
            yield GroupMembership(group=group, members=frozenset(members))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class World:
    """A source, its stores and the clock its runs read."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.clock = Clock()
        self.source = GroupedSource(source_id="s", docs={}, scopes=["a"])
        self.runs: list[RunRecord] = []

    def run(self, *run_types: str) -> RunRecord:
        for run_type in run_types:
            runner = SyncRunner(
                self.source,
                self.stores,
                EMBEDDER,
                chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
                model_name="hashing",
                clock=self.clock,
                retry=RetryPolicy(attempts=2, sleep=lambda _seconds: None),
            )
            record = runner.run(run_type)
            assert record.status == "succeeded", (record.status, record.message)
            self.runs.append(record)
        self.stores.index.refresh()
        return self.runs[-1]

    def doc(self, name: str, *acl: str, version: str = "1") -> None:
        self.source.docs[name] = Doc(
            scope="a", body=f"{name} text", acl=frozenset(acl), version=version
        )

    def later(self, hours: float = 1.0) -> datetime:
        self.clock.now += timedelta(hours=hours)
        return self.clock.now

    def diff(self, user: str, since: datetime, **kwargs: int) -> AccessDiff:
        resolver = IdentityResolver(self.stores.directory, ORG, cache_size=0)
        return access_diff(self.stores, resolver, user, since, now=self.clock.now, **kwargs)

    def visible(self, user: str, doc_id: str) -> bool:
        principals = IdentityResolver(self.stores.directory, ORG, cache_size=0).resolve(user)
        return search_visible(self.stores.index, principals, doc_id)


@pytest.fixture
def world(stores: Stores) -> World:
    return World(stores)


def _by_doc(diff: AccessDiff) -> dict[str, str]:
    return {
        item.doc_id: item.change + (" (deleted)" if item.deleted else "") for item in diff.items
    }


def test_a_user_removed_from_a_group_sees_its_documents_as_hidden(world: World) -> None:
    world.source.memberships = {"group:s:hr": {"user:bob@acme.com", "user:hana@acme.com"}}
    world.doc("hr/salaries.md", "group:s:hr")
    world.doc("hr/reviews.md", "group:s:hr")
    world.doc("welcome.md", "org:acme")
    world.run("groups", "incremental")
    since = world.later()  # Bob is removed from HR an hour after 'since'
    world.later()
    world.source.memberships["group:s:hr"].discard("user:bob@acme.com")
    removal = world.run("groups")

    diff = world.diff("bob@acme.com", since)
    assert _by_doc(diff) == {"s:hr/reviews.md": "hidden", "s:hr/salaries.md": "hidden"}
    assert diff.principals_lost == ["group:s:hr"] and diff.principals_gained == []
    for item in diff.items:
        assert not world.visible("bob@acme.com", item.doc_id)  # search agrees: hidden now
        assert item.matched_then == ["group:s:hr"] and item.matched_now == []
        [change] = item.changes
        assert (change.kind, change.group, change.run_id) == (
            "membership_removed",
            "group:s:hr",
            removal.run_id,
        )
        assert change.principals_removed == ["user:bob@acme.com"]
        assert change.at == world.clock.now
    assert world.diff("hana@acme.com", since).total == 0


@embedded_only
def test_a_widened_acl_makes_the_document_visible_and_names_the_run(world: World) -> None:
    world.source.memberships = {"group:s:eng": {"user:bob@acme.com"}}
    world.doc("plan.md", "user:alice@acme.com")
    world.run("groups", "incremental")
    since = world.later()
    world.later()
    world.doc("plan.md", "user:alice@acme.com", "group:s:eng")
    widening = world.run("permissions")

    diff = world.diff("bob@acme.com", since)
    assert _by_doc(diff) == {"s:plan.md": "visible"}
    [item] = diff.items
    assert item.title == "plan.md" and item.matched_now == ["group:s:eng"]
    [change] = item.changes
    assert (change.kind, change.run_id, change.principals_added) == (
        "acl_changed",
        widening.run_id,
        ["group:s:eng"],
    )
    assert world.visible("bob@acme.com", "s:plan.md")
    assert world.diff("alice@acme.com", since).total == 0  # she saw it then and now


def test_a_deleted_document_is_hidden_as_deleted(world: World) -> None:
    world.doc("old.md", "org:acme")
    world.doc("kept.md", "org:acme")
    world.run("incremental")
    since = world.later()
    del world.source.docs["old.md"]
    prune = world.run("prune")

    diff = world.diff("bob@acme.com", since)
    assert _by_doc(diff) == {"s:old.md": "hidden (deleted)"}
    [item] = diff.items
    assert item.title is None  # the index no longer holds it: nothing more is told
    [change] = item.changes
    assert (change.kind, change.run_id) == ("document_deleted", prune.run_id)


@embedded_only
def test_retention_and_a_deleted_source_are_journaled_as_deletions(world: World) -> None:
    world.source.memberships = {"group:s:hr": {"user:bob@acme.com"}}
    world.doc("old.md", "org:acme")
    world.doc("hr.md", "group:s:hr")
    world.run("groups", "incremental")
    since = world.later()
    # The scripted documents were last modified on 2026-01-01: 30 days of retention expire them.
    set_retention(world.stores, "s", 30, by="ops", now=world.clock())
    apply_retention(world.stores, "s", clock=world.clock)
    retention = world.stores.state.recent_runs("s", limit=1)[0]
    assert retention.run_type == "retention"
    diff = world.diff("bob@acme.com", since)
    assert _by_doc(diff) == {"s:hr.md": "hidden (deleted)", "s:old.md": "hidden (deleted)"}
    assert {(c.kind, c.run_type, c.run_id) for i in diff.items for c in i.changes} == {
        ("document_deleted", "retention", retention.run_id)
    }

    world.source.docs = {}  # the source dropped what retention expired
    world.doc("new.md", "group:s:hr")
    set_retention(world.stores, "s", None, by="ops", now=world.clock())
    world.run("incremental")
    since = world.later()
    delete_source(world.stores, "s", by="ops", clock=world.clock)
    deletion = world.stores.state.recent_runs("s", limit=1)[0]
    diff = world.diff("bob@acme.com", since)
    assert _by_doc(diff) == {"s:new.md": "hidden (deleted)"}
    assert {(c.kind, c.run_id) for c in diff.items[0].changes} == {
        ("document_deleted", deletion.run_id),
        ("membership_removed", deletion.run_id),  # the source's groups went with it
    }
    assert diff.principals_lost == ["group:s:hr"]


@embedded_only
def test_changes_before_since_are_not_listed(world: World) -> None:
    world.doc("plan.md", "user:alice@acme.com")
    world.run("incremental")
    widened_at = world.later()
    world.doc("plan.md", "user:alice@acme.com", "user:bob@acme.com")
    world.run("permissions")
    world.later()
    world.doc("other.md", "user:carol@acme.com")
    world.run("incremental")

    assert world.diff("bob@acme.com", widened_at + timedelta(minutes=1)).total == 0
    assert _by_doc(world.diff("bob@acme.com", widened_at)) == {"s:plan.md": "visible"}
    # The journal began with the index: a time before the first run is still answered.
    assert _by_doc(world.diff("bob@acme.com", T0 - HOUR)) == {"s:plan.md": "visible"}


@embedded_only
def test_the_journal_keeps_its_configured_days_and_refuses_older_times(world: World) -> None:
    configure_access_journal(world.stores.index, 1)
    world.doc("plan.md", "user:alice@acme.com")
    world.run("incremental")
    world.later(72)
    world.doc("plan.md", "user:alice@acme.com", "user:bob@acme.com")
    world.run("permissions")
    journal = access_journal_for(world.stores.index)
    assert journal is not None
    assert [e.at for e in journal.changes_since(T0 - HOUR)] == [world.clock.now]
    assert journal.covers_from() == world.clock.now - timedelta(days=1)
    with pytest.raises(DiffUnavailableError, match="complete from"):
        world.diff("bob@acme.com", T0)
    assert world.diff("bob@acme.com", world.clock.now - HOUR).total == 1


@embedded_only
def test_the_diff_is_paged(world: World) -> None:
    for i in range(5):
        world.doc(f"d{i}.md", "user:alice@acme.com")
    world.run("incremental")
    since = world.later()
    for i in range(5):
        world.doc(f"d{i}.md", "user:alice@acme.com", "user:bob@acme.com")
    world.run("permissions")
    pages = [world.diff("bob@acme.com", since, offset=o, limit=2) for o in (0, 2, 4)]
    assert [p.total for p in pages] == [5, 5, 5]
    assert [item.doc_id for p in pages for item in p.items] == [f"s:d{i}.md" for i in range(5)]


@embedded_only
def test_a_journal_that_cannot_be_written_stops_the_run_before_the_index_changes(
    world: World, tmp_path: Path
) -> None:
    world.doc("plan.md", "user:alice@acme.com")
    world.run("incremental")
    db = world.stores.index.db  # type: ignore[attr-defined]
    with db.write() as conn:  # a store that refuses every new entry (a full disk, say)
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON access_journal"
            " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    world.later()
    world.doc("plan.md", "user:alice@acme.com", "user:bob@acme.com")
    runner = SyncRunner(
        world.source,
        world.stores,
        EMBEDDER,
        chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
        model_name="hashing",
        clock=world.clock,
        retry=RetryPolicy(attempts=2, sleep=lambda _seconds: None),
    )
    record = runner.run("permissions")
    assert record.status == "failed" and "journal" in (record.message or "")
    world.stores.index.refresh()
    assert not world.visible("bob@acme.com", "s:plan.md")  # no change the journal missed


# -- the property: the diff equals replaying the changes on an oracle -----------------------

USERS = ["alice@acme.com", "bob@acme.com", "zed@gmail.com"]
GROUPS = ["group:s:g0", "group:s:g1", "group:s:g2"]
POOL = [*(f"user:{u}" for u in USERS), *GROUPS, "org:acme"]
DOCS = ["d0", "d1", "d2", "d3"]

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("acl"), st.sampled_from(DOCS), st.frozensets(st.sampled_from(POOL), max_size=2)
        ),
        st.tuples(st.just("delete"), st.sampled_from(DOCS), st.just(frozenset())),
        st.tuples(
            st.just("members"),
            st.sampled_from(GROUPS),
            st.frozensets(st.sampled_from(POOL), max_size=2),
        ),
    ),
    min_size=1,
    max_size=5,
)


def _oracle_visible(
    docs: dict[str, frozenset[str]], groups: dict[str, frozenset[str]], user: str
) -> set[str]:
    held = {f"user:{user}"}
    if user.endswith("@acme.com"):
        held.add("org:acme")
    grew = True
    while grew:
        reached = {g for g, members in groups.items() if members & held} - held
        held |= reached
        grew = bool(reached)
    return {f"s:{d}" for d, acl in docs.items() if acl & held}


def test_the_diff_equals_the_replayed_past_against_the_present(tmp_path: Path) -> None:
    counter = iter(range(10_000))
    moved: list[int] = []

    @settings(
        max_examples=8,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        initial=st.dictionaries(
            st.sampled_from(DOCS), st.frozensets(st.sampled_from(POOL), max_size=2), min_size=1
        ),
        before=steps,
        after=steps,
    )
    def check(
        initial: dict[str, frozenset[str]],
        before: list[tuple[str, str, frozenset[str]]],
        after: list[tuple[str, str, frozenset[str]]],
    ) -> None:
        path = tmp_path / f"world-{next(counter)}.sqlite"
        stores = open_embedded(EmbeddedSettings(path=path), DIMENSION)
        try:
            world = World(stores)
            docs = dict(initial)
            groups: dict[str, frozenset[str]] = {}

            def apply(step: tuple[str, str, frozenset[str]]) -> None:
                kind, name, value = step
                world.later()
                if kind == "members":
                    groups[name] = value
                    world.source.memberships = {g: set(m) for g, m in groups.items()}
                    world.run("groups")
                    return
                if kind == "delete":
                    docs.pop(name, None)
                else:
                    docs[name] = value
                world.source.docs = {
                    n: Doc(scope="a", body=f"{n} text", acl=acl) for n, acl in docs.items()
                }
                world.run("incremental", "prune")

            world.source.docs = {
                n: Doc(scope="a", body=f"{n} text", acl=acl) for n, acl in docs.items()
            }
            world.run("incremental")  # the initial documents, at T0
            for step in before:
                apply(step)
            since = world.later(0.5)
            then = {u: _oracle_visible(docs, groups, u) for u in USERS}
            for step in after:
                apply(step)
            for user in USERS:
                now = _oracle_visible(docs, groups, user)
                diff = world.diff(user, since, limit=500)
                assert {i.doc_id for i in diff.items if i.change == "hidden"} == then[user] - now
                assert {i.doc_id for i in diff.items if i.change == "visible"} == now - then[user]
                moved.append(diff.total)
                for item in diff.items:
                    assert world.visible(user, item.doc_id) == (item.change == "visible")
                    assert item.changes, item  # every move names what did it
                    assert all(change.at >= since for change in item.changes)
        finally:
            stores.close()

    check()
    assert sum(1 for total in moved if total) >= len(moved) // 4, moved  # not vacuous


# -- through the CLI and the admin API ---------------------------------------------------------


def _workspace(root: Path) -> tuple[Path, str]:
    docs = root / "docs"
    (docs / "hr").mkdir(parents=True)
    (docs / ".permindex-acl.yaml").write_text("allow: [org]\n")
    (docs / "hr" / ".permindex-acl.yaml").write_text("allow: [group:hr]\n")
    (docs / ".permindex-groups.yaml").write_text(
        "groups:\n  hr: [hana@example.com, bob@example.com]\n"
    )
    (docs / "welcome.md").write_text("# Welcome\n\nThe office opens at nine.\n")
    (docs / "hr" / "salaries.md").write_text("# Salary bands\n\nReviewed in March.\n")
    (root / "permindex.yaml").write_text(FOLDER_CONFIG)
    for args in (("sync", "docs", "--groups", "--quiet"), ("sync", "docs", "--quiet")):
        result = run_cli(root, *args)
        assert result.exit_code == 0, result.output
    removal = datetime.now(UTC).isoformat()
    # Bob leaves HR.
    (docs / ".permindex-groups.yaml").write_text("groups:\n  hr: [hana@example.com]\n")
    result = run_cli(root, "sync", "docs", "--groups", "--quiet")
    assert result.exit_code == 0, result.output
    return root, removal


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return _workspace(tmp_path_factory.mktemp("access-diff"))


@pytest.fixture(scope="module")
def workspace(deployment: tuple[Path, str]) -> Path:
    return deployment[0]


def test_diff_on_the_cli(deployment: tuple[Path, str]) -> None:
    workspace, removal = deployment
    result = run_cli(
        workspace, "access", "diff", "--user", "bob@example.com", "--since", removal, columns=220
    )
    assert result.exit_code == 0, result.output
    assert "HIDDEN" in result.stdout and "docs:hr/salaries.md" in result.stdout
    # The folder source expands groups into its ACLs: the groups run recomputed this one.
    assert "docs groups run " in result.stdout
    assert ": acl changed -user:bob@example.com" in result.stdout
    assert ": user:bob@example.com removed from group:docs:hr" in result.stdout
    # An hour ago the workspace did not exist: the welcome page became visible since (the
    # salary sheet was created and hidden from Bob again within the hour).
    result = run_cli(
        workspace, "access", "diff", "--user", "bob@example.com", "--since", "1h", "--json"
    )
    answer = json.loads(result.stdout)
    assert [(i["doc_id"], i["change"]) for i in answer["items"]] == [("docs:welcome.md", "visible")]
    assert answer["items"][0]["changes"][0]["kind"] == "document_created"
    result = run_cli(
        workspace, "access", "diff", "--user", "bob@example.com", "--since", removal, "--json"
    )
    answer = json.loads(result.stdout)
    assert [(i["doc_id"], i["change"]) for i in answer["items"]] == [
        ("docs:hr/salaries.md", "hidden")
    ]
    assert "Reviewed in March" not in result.stdout  # never the content
    audited = [
        json.loads(line)
        for path in workspace.rglob("*audit*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert any(r["kind"] == "access_diff" and r["subject"] == "bob@example.com" for r in audited)
    result = run_cli(
        workspace, "access", "diff", "--user", "bob@example.com", "--since", "yesterday"
    )
    assert result.exit_code == 2 and "neither an ISO time" in result.stderr


class _Audit:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, record: AuditRecord) -> None:
        self.records.append(record)


def test_diff_through_the_admin_api(deployment: tuple[Path, str], tmp_path: Path) -> None:
    workspace, removal = deployment
    keys_path = tmp_path / "keys.yaml"
    admin = create_key(keys_path, "ops", {Capability.ADMIN})[1]
    search = create_key(keys_path, "app", {Capability.SEARCH})[1]
    config = load_config(workspace / "permindex.yaml")
    stores = open_embedded(EmbeddedSettings(path=workspace / "index.sqlite"), 32)
    audit = _Audit()
    try:
        org = config.org_policy
        service = create_app(
            Searcher(stores.index, HashingEmbedder(32), RetrievalSettings()),
            IdentityResolver(stores.directory, org),
            ApiKeyStore.from_file(keys_path),
            ServiceSettings(keys_file=keys_path),
            stores=stores,
            audit=audit,
            routers=[access_router],
        )
        query = {"user": "bob@example.com", "since": removal}
        with TestClient(service) as http:
            refused = http.get(
                "/v1/admin/access/diff", params=query, headers={"Authorization": f"Bearer {search}"}
            )
            ok = http.get(
                "/v1/admin/access/diff", params=query, headers={"Authorization": f"Bearer {admin}"}
            )
            future = http.get(
                "/v1/admin/access/diff",
                params={"user": "bob@example.com", "since": "2999-01-01T00:00:00Z"},
                headers={"Authorization": f"Bearer {admin}"},
            )
    finally:
        stores.close()
    assert refused.status_code == 403
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert [(i["doc_id"], i["change"], i["title"]) for i in body["items"]] == [
        ("docs:hr/salaries.md", "hidden", "Salary bands")
    ]
    assert "Reviewed in March" not in ok.text
    assert future.status_code == 422 and future.json()["error"]["code"] == "invalid_since"
    assert [(r.kind, r.user, r.subject) for r in audit.records] == [
        ("access_diff", "ops", "bob@example.com")
    ]


def test_the_journal_lives_in_the_embedded_file(workspace: Path) -> None:
    # Durable: a fresh process (a new connection) reads what the runs journaled.
    with sqlite3.connect(workspace / "index.sqlite") as conn:
        kinds = {row[0] for row in conn.execute("SELECT DISTINCT kind FROM access_journal")}
    assert kinds == {"acl", "membership"}
    stores = open_embedded(EmbeddedSettings(path=workspace / "index.sqlite"), 32)
    try:
        journal = access_journal_for(stores.index)
        assert journal is not None and journal.covers_from() is not None
    finally:
        stores.close()
