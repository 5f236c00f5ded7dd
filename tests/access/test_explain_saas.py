"""Explanations of the SaaS permission models, from the connectors' emulators: a Confluence page
under its space and restriction, a Jira issue under its project scheme and security level."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexer.backends import Stores
from indexer.provenance import provenance_store_for
from indexer.runner import RunType
from retrieval.access.explain import explain_access
from retrieval.identity import IdentityResolver
from tests.conftest import MakeStores
from tests.connectors.confluence import helpers as wiki
from tests.connectors.jira.harness import EMBEDDER as JIRA_EMBEDDER
from tests.connectors.jira.harness import Harness, seed_site
from tests.emulators.confluence import ConfluenceEmulator
from tests.emulators.jira import JiraEmulator


@pytest.fixture
def backend_kind() -> str:
    return "embedded"


@pytest.fixture(scope="module")
def confluence() -> Iterator[ConfluenceEmulator]:
    with ConfluenceEmulator(seed=9) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def jira() -> Iterator[JiraEmulator]:
    with JiraEmulator(seed=10) as emulator:
        yield emulator


def _doc_by_title(stores: Stores, source_id: str, title: str) -> str:
    store = provenance_store_for(stores.index)
    assert store is not None
    for fp in stores.index.iter_fingerprints(source_id):
        held = store.indexed_acl(fp.doc_id)
        if held is not None and held.title == title:
            return fp.doc_id
    raise AssertionError(f"no document titled {title!r}")


def test_confluence_page_restriction_is_the_layer_that_stops_alice(
    confluence: ConfluenceEmulator, make_stores: MakeStores
) -> None:
    confluence.reset()
    stores = make_stores(wiki.EMBEDDER.dimension)
    stores.index.ensure_schema()
    conn = wiki.connector(confluence, page_size=50, restriction_page_size=50)
    assert wiki.run(conn, stores, RunType.groups).status == "succeeded"
    assert wiki.run(conn, stores, RunType.full).status == "succeeded"
    stores.index.refresh()
    resolver = IdentityResolver(stores.directory, wiki.ORG)
    salaries = _doc_by_title(stores, "wiki", "Salaries")

    carol = explain_access(stores, resolver, "carol@acme.com", salaries)
    assert carol.visible and carol.layers_status == "recorded"
    assert [layer.kind for layer in carol.layers] == ["space", "page restriction"]
    assert carol.layers[1].origin is not None and carol.layers[1].origin.startswith("page ")
    # Carol holds the page's account principal through the identity mapping the site synced.
    account = carol.layers[1].matched[0]
    assert account.startswith("account:wiki:")
    seed = next(h for h in carol.principals if h.principal == account)
    assert "identity mapping" in seed.seed

    alice = explain_access(stores, resolver, "alice@acme.com", salaries)
    assert not alice.visible
    assert [layer.admits for layer in alice.layers] == [True, False]
    assert "layer 2" in alice.summary and "admitted nobody of theirs" in alice.summary
    assert confluence.take_violations() == []


def test_jira_security_level_and_project_scheme_each_stop_someone(
    jira: JiraEmulator, make_stores: MakeStores
) -> None:
    jira.reset()
    jira.page_size = 50
    site = seed_site(jira)
    stores = make_stores(JIRA_EMBEDDER.dimension)
    stores.index.ensure_schema()
    harness = Harness(jira, stores)
    harness.sync()
    stores.index.refresh()
    billing = f"jira:{site.eng_project}/{site.billing}"  # <project id>/<issue id>

    alice = explain_access(stores, harness.resolver, "alice@acme.com", billing)
    assert alice.visible
    assert [layer.kind for layer in alice.layers] == ["project permission scheme", "security level"]
    assert all(layer.admits for layer in alice.layers)

    bob = explain_access(stores, harness.resolver, "bob@acme.com", billing)
    assert not bob.visible and [layer.admits for layer in bob.layers] == [True, False]
    assert "security level" in bob.summary

    carol = explain_access(stores, harness.resolver, "carol@acme.com", billing)
    assert not carol.visible and [layer.admits for layer in carol.layers] == [False, True]
    assert jira.take_violations() == []
