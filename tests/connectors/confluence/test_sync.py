"""The Confluence connector against the emulator, through the real runner, as users search."""

from __future__ import annotations

from indexer.backends import Stores
from indexer.runner import RunType
from tests.connectors.confluence.helpers import connector, found, run
from tests.emulators.base import RateLimited, ServerError
from tests.emulators.confluence import ConfluenceEmulator


def synced(site: ConfluenceEmulator, stores: Stores) -> None:
    conn = connector(site)
    assert run(conn, stores, RunType.groups).status == "succeeded"
    record = run(conn, stores, RunType.full)
    assert record.status == "succeeded", record.message


def test_full_sync_indexes_pages_and_blog_posts_under_their_layers(
    site: ConfluenceEmulator, stores: Stores
) -> None:
    synced(site, stores)
    assert found(stores, "nebula", "bob@acme.com") == {"Deep design"}
    assert found(stores, "comet", "bob@acme.com") == {"Launch news"}
    # HR: alice by name and the hr group; Salaries is restricted to carol as well.
    assert found(stores, "meadow", "alice@acme.com") == {"Handbook"}
    assert found(stores, "meadow", "bob@acme.com") == set()
    assert found(stores, "tundra", "carol@acme.com") == {"Salaries"}
    assert found(stores, "tundra", "alice@acme.com") == set()
    assert found(stores, "nebula", "stranger@gmail.com") == set()


def test_incremental_runs_pick_up_edits_and_new_pages(
    site: ConfluenceEmulator, stores: Stores
) -> None:
    synced(site, stores)
    runbook = next(c.id for c in site.state.contents.values() if c.title == "Runbook")
    site.tick(5)
    site.edit(runbook, "<p>Restart the magnetar</p>")
    site.add("ENG", "Oncall", "<p>Magnetar pager</p>", runbook)
    record = run(connector(site), stores, RunType.incremental)
    assert record.status == "succeeded", record.message
    assert found(stores, "magnetar", "bob@acme.com") == {"Runbook", "Oncall"}
    assert found(stores, "pulsar", "bob@acme.com") == set()


def test_a_page_moved_to_another_space_follows_the_new_spaces_permissions(
    site: ConfluenceEmulator, stores: Stores
) -> None:
    synced(site, stores)
    arch = next(c.id for c in site.state.contents.values() if c.title == "Architecture")
    site.move(arch, "HR")  # with its child, Deep design; lastmodified untouched
    assert run(connector(site), stores, RunType.incremental).status == "succeeded"
    assert found(stores, "nebula", "bob@acme.com") == set()
    assert found(stores, "nebula", "alice@acme.com") == {"Deep design"}
    assert found(stores, "quasar", "carol@acme.com") == {"Architecture"}


def test_trash_restore_and_purge(site: ConfluenceEmulator, stores: Stores) -> None:
    synced(site, stores)
    handbook = next(c.id for c in site.state.contents.values() if c.title == "Handbook")
    news = next(c.id for c in site.state.contents.values() if c.title == "Launch news")
    site.trash(handbook)
    site.archive(news)
    assert run(connector(site), stores, RunType.incremental).status == "succeeded"
    assert found(stores, "meadow", "alice@acme.com") == set()
    assert found(stores, "comet", "bob@acme.com") == set()
    site.restore(handbook)  # a restore need not touch lastmodified
    assert run(connector(site), stores, RunType.incremental).status == "succeeded"
    assert found(stores, "meadow", "alice@acme.com") == {"Handbook"}
    site.purge(handbook)
    assert run(connector(site), stores, RunType.prune).status == "succeeded"
    assert found(stores, "meadow", "alice@acme.com") == set()


def test_an_ancestor_restriction_hides_every_descendant_until_removed(
    site: ConfluenceEmulator, stores: Stores
) -> None:
    synced(site, stores)
    home = next(c.id for c in site.state.contents.values() if c.title == "Engineering home")
    site.restrict(home, groups=[site.group_ids["eng"]])
    conn = connector(site)
    # No version changed: the permissions run finds it.
    assert found(stores, "nebula", "carol@acme.com") == {"Deep design"}
    assert run(conn, stores, RunType.permissions).status == "succeeded"
    assert found(stores, "nebula pulsar quasar welcome", "carol@acme.com") == set()
    assert found(stores, "nebula", "bob@acme.com") == {"Deep design"}
    assert found(stores, "comet", "carol@acme.com") == {"Launch news"}  # not below home
    site.restrict(home)
    assert run(conn, stores, RunType.permissions).status == "succeeded"
    assert found(stores, "nebula", "carol@acme.com") == {"Deep design"}


def test_an_unreadable_ancestor_hides_the_page_and_is_recorded(
    site: ConfluenceEmulator, stores: Stores
) -> None:
    synced(site, stores)
    arch = next(c.id for c in site.state.contents.values() if c.title == "Architecture")
    deep = next(c.id for c in site.state.contents.values() if c.title == "Deep design")
    site.state.unreadable.add(arch)  # a draft or trashed ancestor: its restriction is a 404
    site.state.unreadable.discard(deep)
    site.tick(5)
    site.edit(deep, "<p>Nebula internals, revised</p>")
    record = run(connector(site), stores, RunType.incremental)
    assert record.status == "succeeded", record.message
    assert found(stores, "nebula", "bob@acme.com") == set()
    assert any("restriction cannot be read" in e.reason for e in record.errors)


def test_a_429_storm_with_retry_after_completes(site: ConfluenceEmulator, stores: Stores) -> None:
    sleeps: list[float] = []
    for route in ("search", "restriction", "page", "space_pages"):
        site.inject(route, RateLimited(retry_after="7", times=3))
    site.inject("ancestors", ServerError(status=503, retry_after="2", times=2))
    conn = connector(site, sleeps=sleeps)
    assert run(conn, stores, RunType.groups).status == "succeeded"
    record = run(conn, stores, RunType.full)
    assert record.status == "succeeded", record.message
    assert sum(1 for s in sleeps if s >= 7) >= 9  # the SDK did not wait: the gateway did
    assert found(stores, "nebula", "bob@acme.com") == {"Deep design"}
    assert any(call.status == 429 for call in site.calls_of("search"))


def test_a_listing_failing_halfway_deletes_nothing(
    site: ConfluenceEmulator, stores: Stores
) -> None:
    synced(site, stores)
    for content in list(site.state.contents.values()):
        site.trash(content.id)  # were the listing trusted, everything would go
    site.restore(next(iter(site.state.contents)))
    site.inject("space_pages", ServerError(status=503, times=None, after=1))
    for run_type in (RunType.prune, RunType.incremental, RunType.full):
        record = run(connector(site), stores, run_type)
        assert record.status == "failed"
    assert found(stores, "nebula", "bob@acme.com") == {"Deep design"}


def test_a_groups_run_records_how_many_accounts_hide_their_email(
    site: ConfluenceEmulator, stores: Stores
) -> None:
    record = run(connector(site), stores, RunType.groups)
    assert record.status == "succeeded"
    assert record.notes == {"hidden_emails": 1}  # dave hides his
    assert stores.state.recent_runs("wiki", limit=1)[0].notes == {"hidden_emails": 1}
    assert run(connector(site), stores, RunType.full).notes == {}
