"""Spaces as units of work: each space run on its own (as scale-out workers run them), through
the real runner and the emulator, as users search."""

from __future__ import annotations

from collections.abc import Callable

from connectors.confluence import ConfluenceConnector
from indexer.backends import Stores
from indexer.runner import RunType
from tests.connectors.confluence.helpers import connector, found, runner
from tests.emulators.base import ApiRequest, ApiResponse
from tests.emulators.confluence import ConfluenceEmulator

_BY_PATH = ("space_permissions", "space_pages", "space_blogposts")
_BY_CONTENT = ("ancestors", "page", "blogpost", "comments", "restriction")


def run_scope(site: ConfluenceEmulator, stores: Stores, scope: str, run_type: RunType) -> None:
    scoped = connector(site).for_scope(scope)
    record = runner(scoped, stores, scope=scope).run(run_type)
    assert record.status == "succeeded", (scope, record.message)


def synced_by_space(site: ConfluenceEmulator, stores: Stores) -> list[str]:
    conn = connector(site)
    assert runner(conn, stores).run(RunType.groups).status == "succeeded"
    scopes = conn.work_scopes()
    for scope in scopes:
        run_scope(site, stores, scope, RunType.full)
    return scopes


def spaces_touched(site: ConfluenceEmulator) -> list[str]:
    """Records, per request, the space it reads (by path, content id or CQL space key)."""
    touched: list[str] = []

    def recording(name: str, handler: Callable[[ApiRequest], ApiResponse]) -> None:
        def record(request: ApiRequest) -> ApiResponse:
            if name in _BY_PATH:
                touched.append(site._groups_of(request)[0])
            elif name in _BY_CONTENT:
                ident = next(g for g in site._groups_of(request) if g.isdigit())
                touched.append(site.state.contents[ident].space_id)
            elif name == "search":
                cql = request.query.get("cql", "")
                keys = cql.split("space in (", 1)[1].split(")", 1)[0].replace('"', "")
                touched.extend(site.space_id(key.strip()) for key in keys.split(","))
            return handler(request)

        site.handlers[name] = record

    for name, handler in list(site.handlers.items()):
        recording(name, handler)
    return touched


def state(stores: Stores, source_id: str) -> dict[str, tuple[str, str]]:
    stores.index.refresh()
    return {
        fp.external_id: (fp.content_fingerprint, fp.acl_fingerprint)
        for fp in stores.index.iter_fingerprints(source_id)
    }


def test_the_spaces_are_the_scopes_and_a_space_run_reads_nothing_outside_its_space(
    site: ConfluenceEmulator, stores: Stores
) -> None:
    eng, hr = site.space_id("ENG"), site.space_id("HR")
    assert synced_by_space(site, stores) == [eng, hr]
    runbook = next(c.id for c in site.state.contents.values() if c.title == "Runbook")
    handbook = next(c.id for c in site.state.contents.values() if c.title == "Handbook")
    site.tick(5)
    site.edit(runbook, "<p>Restart the magnetar</p>")
    site.edit(handbook, "<p>Holiday policy glacier</p>")
    touched = spaces_touched(site)

    run_scope(site, stores, eng, RunType.incremental)

    assert touched and set(touched) == {eng}
    assert found(stores, "magnetar", "bob@acme.com") == {"Runbook"}
    # HR's edit waits for HR's own run.
    assert found(stores, "glacier", "alice@acme.com") == set()
    run_scope(site, stores, hr, RunType.incremental)
    assert found(stores, "glacier", "alice@acme.com") == {"Handbook"}


def test_a_space_permissions_run_leaves_the_other_spaces_documents_as_they_were(
    site: ConfluenceEmulator, stores: Stores
) -> None:
    eng, hr = synced_by_space(site, stores)
    hr_before = {k: v for k, v in state(stores, "wiki").items() if k.startswith(f"{hr}/")}
    salaries = next(c.id for c in site.state.contents.values() if c.title == "Salaries")
    deep = next(c.id for c in site.state.contents.values() if c.title == "Deep design")
    site.restrict(salaries, users=[site.names["alice"]])  # HR's change: waits for HR's run
    site.restrict(deep, users=[site.names["alice"]])
    runbook = next(c.id for c in site.state.contents.values() if c.title == "Runbook")
    assert found(stores, "pulsar", "bob@acme.com") == {"Runbook"}
    site.trash(runbook)  # unlisted: nobody until the next incremental run deletes it
    touched = spaces_touched(site)

    run_scope(site, stores, eng, RunType.permissions)

    assert set(touched) == {eng}
    hr_after = {k: v for k, v in state(stores, "wiki").items() if k.startswith(f"{hr}/")}
    assert hr_after == hr_before and len(hr_before) == 2
    assert found(stores, "meadow", "alice@acme.com") == {"Handbook"}
    assert found(stores, "tundra", "carol@acme.com") == {"Salaries"}
    assert found(stores, "nebula", "bob@acme.com") == set()
    assert found(stores, "nebula", "alice@acme.com") == {"Deep design"}
    assert found(stores, "pulsar", "bob@acme.com") == set()


def test_a_page_moved_to_another_space_leaves_no_copy_after_that_spaces_run(
    site: ConfluenceEmulator, stores: Stores
) -> None:
    eng, hr = synced_by_space(site, stores)
    arch = next(c.id for c in site.state.contents.values() if c.title == "Architecture")
    assert found(stores, "quasar", "bob@acme.com") == {"Architecture"}
    site.move(arch, "HR")  # with its child, Deep design; lastmodified untouched

    # The space that now holds it runs first; ENG, where the old copies are, has not run.
    run_scope(site, stores, hr, RunType.permissions)
    assert found(stores, "quasar nebula", "bob@acme.com") == set()
    run_scope(site, stores, hr, RunType.incremental)

    assert found(stores, "quasar nebula", "bob@acme.com") == set()
    assert found(stores, "quasar", "carol@acme.com") == {"Architecture"}
    assert found(stores, "nebula", "alice@acme.com") == {"Deep design"}
    assert [k for k in state(stores, "wiki") if k.endswith(f"/{arch}")] == [f"{hr}/page/{arch}"]
    before = state(stores, "wiki")
    run_scope(site, stores, eng, RunType.incremental)
    assert state(stores, "wiki") == before


def test_for_scope_covers_one_space_and_names_it_in_every_id(site: ConfluenceEmulator) -> None:
    whole: ConfluenceConnector = connector(site)
    hr = site.space_id("HR")
    scoped = whole.for_scope(hr)
    ids = [e.external_id for e in scoped.list_live_ids() if e.kind == "live"]
    assert ids and {whole.scope_of(i) for i in ids} == {hr}
    assert len(ids) < len([e for e in whole.list_live_ids() if e.kind == "live"])
