"""Comments indexed as part of their page, through the real runner, as users search."""

from __future__ import annotations

from typing import Any

from indexer.backends import Stores
from indexer.runner import RunType
from tests.connectors.confluence.helpers import connector, found, run
from tests.emulators.base import ServerError
from tests.emulators.confluence import ConfluenceEmulator


def page_id(site: ConfluenceEmulator, title: str) -> str:
    return next(c.id for c in site.state.contents.values() if c.title == title)


def synced(site: ConfluenceEmulator, stores: Stores, **options: Any) -> None:
    conn = connector(site, **options)
    assert run(conn, stores, RunType.groups).status == "succeeded"
    record = run(conn, stores, RunType.full)
    assert record.status == "succeeded", record.message


def test_a_comments_words_and_author_find_its_page_for_the_pages_readers_only(
    site: ConfluenceEmulator, stores: Stores
) -> None:
    site.comment(page_id(site, "Salaries"), "<p>Glacier review in March</p>", author="carol")
    site.comment(page_id(site, "Deep design"), "<p>Aurora benchmark</p>", author="alice")
    site.comment(page_id(site, "Deep design"), "<p>Borealis typo</p>", "bob", inline=True)
    site.comment(page_id(site, "Deep design"), "<p>Nimbus rerun</p>", author="bob")
    site.comment(page_id(site, "Deep design"), "<p>Cirrus numbers</p>", author="alice")
    synced(site, stores)
    assert found(stores, "glacier", "carol@acme.com") == {"Salaries"}
    assert found(stores, "carol", "carol@acme.com") == {"Salaries"}  # the author's name
    assert found(stores, "glacier", "alice@acme.com") == set()  # HR, but not Salaries' reader
    # Three footer comments: more than one page of the listing (page_size 2).
    for word in ("aurora", "borealis", "nimbus", "cirrus"):
        assert found(stores, word, "bob@acme.com") == {"Deep design"}
    assert found(stores, "aurora", "stranger@gmail.com") == set()


def test_a_comment_on_an_old_page_is_found_after_the_next_incremental_run(
    site: ConfluenceEmulator, stores: Stores
) -> None:
    synced(site, stores)
    handbook = page_id(site, "Handbook")
    site.tick(30)
    note = site.comment(handbook, "<p>Fjord offsite dates</p>", author="alice")
    site.comment(page_id(site, "Runbook"), "<p>Geyser step missing</p>", inline=True)
    record = run(connector(site), stores, RunType.incremental)
    assert record.status == "succeeded", record.message
    assert found(stores, "fjord", "alice@acme.com") == {"Handbook"}
    assert found(stores, "fjord", "bob@acme.com") == set()
    assert found(stores, "geyser", "bob@acme.com") == {"Runbook"}

    # Seen again in the overlap, unchanged: the page is not fetched again.
    before = len(site.calls_of("page"))
    assert run(connector(site), stores, RunType.incremental).status == "succeeded"
    assert len(site.calls_of("page")) == before

    site.tick(5)
    site.edit_comment(note, "<p>Lagoon offsite dates</p>")
    assert run(connector(site), stores, RunType.incremental).status == "succeeded"
    assert found(stores, "lagoon", "alice@acme.com") == {"Handbook"}
    assert found(stores, "fjord", "alice@acme.com") == set()


def test_comments_exclude_leaves_them_out(site: ConfluenceEmulator, stores: Stores) -> None:
    site.comment(page_id(site, "Handbook"), "<p>Fjord offsite dates</p>", author="alice")
    synced(site, stores, comments=False)
    assert found(stores, "fjord", "alice@acme.com") == set()
    assert found(stores, "meadow", "alice@acme.com") == {"Handbook"}
    assert run(connector(site, comments=False), stores, RunType.incremental).status == "succeeded"
    assert found(stores, "fjord", "alice@acme.com") == set()
    # Turning comments on takes effect on the next full run.
    assert run(connector(site), stores, RunType.full).status == "succeeded"
    assert found(stores, "fjord", "alice@acme.com") == {"Handbook"}


def test_unreadable_comments_fail_their_page_only(site: ConfluenceEmulator, stores: Stores) -> None:
    synced(site, stores)
    site.tick(30)
    site.comment(page_id(site, "Handbook"), "<p>Fjord offsite dates</p>", author="alice")
    site.inject("comments", ServerError(status=404, times=1))
    record = run(connector(site), stores, RunType.incremental)
    assert record.status == "succeeded", record.message
    assert any("comments cannot be read" in e.reason for e in record.errors)
    assert found(stores, "meadow", "alice@acme.com") == {"Handbook"}  # the old copy stays
    assert found(stores, "meadow", "bob@acme.com") == set()
    assert found(stores, "fjord", "alice@acme.com") == set()
    # The comment is still in the next run's overlap.
    assert run(connector(site), stores, RunType.incremental).status == "succeeded"
    assert found(stores, "fjord", "alice@acme.com") == {"Handbook"}
