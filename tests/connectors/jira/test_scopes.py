"""Projects as units of work: each project run on its own (as scale-out workers run them), and
issues moved between projects, through the real SDK, emulator, runner and index."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.contract import Connector
from connectors.events import ChangeEvent, Checkpoint, CheckpointReached, DocumentUpserted
from connectors.jira.connector import JiraConnector
from indexer.runner import RunType
from tests.connectors.jira.harness import BROWSE, Harness, Site, doc_id
from tests.emulators.base import ApiRequest, ApiResponse, Handler
from tests.emulators.jira import JiraEmulator


def run_scope(harness: Harness, scope: str, run_type: RunType) -> None:
    harness.run(run_type, harness.connector().for_scope(scope), scope=scope)


def synced_by_project(harness: Harness) -> list[str]:
    harness.run(RunType.groups)
    scopes = harness.connector().work_scopes()
    for scope in scopes:
        run_scope(harness, scope, RunType.full)
    return scopes


def state(harness: Harness) -> dict[str, tuple[str, str]]:
    harness.stores.index.refresh()
    return {
        fp.external_id: (fp.content_fingerprint, fp.acl_fingerprint)
        for fp in harness.stores.index.iter_fingerprints("jira")
    }


class Requests:
    """What the connector asked the emulator: every search's JQL, every bulk fetch's issues,
    the projects whose scheme and roles it read."""

    def __init__(self, jira: JiraEmulator) -> None:
        self.jql: list[str] = []
        self.fetched: list[str] = []
        self.projects: list[str] = []
        search, bulk = jira.handlers["search/jql"], jira.handlers["issue/bulkfetch"]
        jira.handlers["search/jql"] = self._search(search)
        jira.handlers["issue/bulkfetch"] = self._bulk(bulk)
        for route in ("permissionscheme", "project/role"):
            jira.handlers[route] = self._project(jira, jira.handlers[route])

    def _project(self, jira: JiraEmulator, handler: Handler) -> Handler:
        def record(request: ApiRequest) -> ApiResponse:
            self.projects.append(request.path.split("/project/", 1)[1].split("/", 1)[0])
            return handler(request)

        return record

    def _search(self, handler: Handler) -> Handler:
        def record(request: ApiRequest) -> ApiResponse:
            self.jql.append(request.query.get("jql") or (request.json_body or {}).get("jql", ""))
            return handler(request)

        return record

    def _bulk(self, handler: Handler) -> Handler:
        def record(request: ApiRequest) -> ApiResponse:
            self.fetched.extend(str(i) for i in (request.json_body or {}).get("issueIdsOrKeys", []))
            return handler(request)

        return record


def test_the_projects_are_the_scopes_and_a_project_run_fetches_nothing_outside_it(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    assert synced_by_project(harness) == [site.eng_project, site.ops_project]
    jira.edit_issue(site.login, description="Sessions expire because of clock skew.")
    jira.edit_issue(site.runbook, description="Escalate to the duty manager first.")
    asked = Requests(jira)

    run_scope(harness, site.eng_project, RunType.incremental)

    assert asked.jql and all(f"project = {site.eng_project} " in q for q in asked.jql)
    eng_issues = {
        i for i, issue in jira.state.issues.items() if issue.project_id == site.eng_project
    }
    assert asked.fetched and set(asked.fetched) <= eng_issues
    assert asked.projects and set(asked.projects) == {site.eng_project}
    assert harness.found("alice@acme.com", "clock skew") == {doc_id(jira, site.login)}
    assert harness.found("carol@acme.com", "duty manager") == set()  # OPS waits for its run
    run_scope(harness, site.ops_project, RunType.incremental)
    assert harness.found("carol@acme.com", "duty manager") == {doc_id(jira, site.runbook)}


def test_a_project_permissions_run_leaves_the_other_projects_documents_as_they_were(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    synced_by_project(harness)
    ops_before = {k: v for k, v in state(harness).items() if k.startswith(f"{site.ops_project}/")}
    # Neither change moves `updated`: only permissions runs see them.
    jira.state.schemes[site.ops_scheme] = [(BROWSE, "group", site.sales)]
    jira.state.issues[site.login].level = site.leads_level
    assert harness.who_finds("pricing overhaul") == {"alice"}
    jira.delete_issue(site.billing)  # unseen by the walk: nobody until pruning removes it
    asked = Requests(jira)

    run_scope(harness, site.eng_project, RunType.permissions)

    assert asked.jql and all(f"project = {site.eng_project} " in q for q in asked.jql)
    assert set(asked.projects) == {site.eng_project}
    ops_after = {k: v for k, v in state(harness).items() if k.startswith(f"{site.ops_project}/")}
    assert ops_after == ops_before and len(ops_before) == 1
    assert harness.who_finds("escalation ladder") == {"alice", "bob", "carol", "dave"}
    assert harness.who_finds("login sessions") == {"alice"}
    assert harness.who_finds("pricing overhaul") == set()
    run_scope(harness, site.ops_project, RunType.permissions)
    assert harness.who_finds("escalation ladder") == {"carol"}


def test_a_moved_issue_leaves_no_copy_under_its_old_project_after_its_new_projects_run(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    synced_by_project(harness)
    assert "carol" in harness.who_finds("escalation ladder")  # OPS: every licensed user
    jira.edit_issue(site.runbook, project_id=site.eng_project)  # OPS-1 becomes ENG-3

    # ENG, which now holds it, runs; OPS, where the old copy is, has not run since.
    run_scope(harness, site.eng_project, RunType.permissions)
    assert harness.who_finds("escalation ladder") == set()  # the OPS copy: nobody
    run_scope(harness, site.eng_project, RunType.incremental)

    assert harness.who_finds("escalation ladder") == {"alice", "bob", "dave"}
    copies = [k for k in state(harness) if k.endswith(f"/{site.runbook}")]
    assert copies == [f"{site.eng_project}/{site.runbook}"]
    before = state(harness)
    for run_type in (RunType.incremental, RunType.permissions, RunType.full):
        run_scope(harness, site.ops_project, run_type)
    assert state(harness) == before
    # And back: ENG's copy goes with OPS's next run.
    jira.edit_issue(site.runbook, project_id=site.ops_project)
    run_scope(harness, site.ops_project, RunType.incremental)
    assert harness.who_finds("escalation ladder") == {"alice", "bob", "carol", "dave"}
    assert [k for k in state(harness) if k.endswith(f"/{site.runbook}")] == [
        f"{site.ops_project}/{site.runbook}"
    ]


def test_a_moved_issue_whose_new_acl_cannot_be_read_leaves_its_old_copy_to_nobody(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    synced_by_project(harness)
    jira.edit_issue(site.runbook, project_id=site.eng_project)
    jira.state.projects[site.eng_project].scheme_id = 99999  # a scheme the API cannot find

    record = harness.runner(
        harness.connector().for_scope(site.eng_project), scope=site.eng_project
    ).run(RunType.incremental)

    assert f"jira:{site.eng_project}/{site.runbook}" in {e.doc_id for e in record.errors}
    assert harness.who_finds("escalation ladder") == set()  # not under OPS's ACL either


class _FormatOne(Connector):
    """The index as a format 1 deployment left it: issues under their bare ids, and a format
    1 checkpoint whose cursors say everything was read."""

    def __init__(self, inner: JiraConnector) -> None:
        self._inner = inner
        self.source_id = inner.source_id
        self.capabilities = inner.capabilities

    def validate(self) -> None:
        return None

    def changes(
        self, checkpoint: Checkpoint | None, context: object = None
    ) -> Iterator[ChangeEvent]:
        for event in self._inner.changes(None):
            if isinstance(event, DocumentUpserted):
                bare = event.document.external_id.split("/", 1)[1]
                yield DocumentUpserted(
                    document=event.document.model_copy(update={"external_id": bare})
                )
        cursors = {project: 10**15 for project in self._inner.work_scopes()}
        value = {"format": "jira-checkpoint/1", "cursors": cursors}
        yield CheckpointReached(checkpoint=Checkpoint(value=value))


def test_an_index_of_format_one_is_read_again_and_its_bare_ids_replaced(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    harness.run(RunType.groups)
    harness.run(RunType.incremental, _FormatOne(harness.connector()))  # type: ignore[arg-type]
    assert set(state(harness)) == {site.login, site.billing, site.runbook}

    record = harness.run(RunType.incremental)

    assert record.counts.created == 3 and record.counts.deleted == 3
    assert set(state(harness)) == {
        doc_id(jira, site.login),
        doc_id(jira, site.billing),
        doc_id(jira, site.runbook),
    }
    assert harness.who_finds("escalation ladder") == {"alice", "bob", "carol", "dave"}
    assert harness.who_finds("pricing overhaul") == {"alice"}


def test_scope_failed_names_the_scope_that_scope_of_gives_its_issues(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    connector = harness.connector()
    jira.handlers["search/jql"] = _refuse_project(jira, site.ops_project)
    failed = [e for e in connector.list_live_ids() if e.kind == "scope_failed"]
    assert [e.scope for e in failed] == [site.ops_project]
    assert connector.scope_of(doc_id(jira, site.runbook)) == site.ops_project
    assert connector.scope_of(site.runbook) == ""  # a format 1 id names no project


def _refuse_project(jira: JiraEmulator, project_id: str) -> Handler:
    def handler(request: ApiRequest) -> ApiResponse:
        jql = request.query.get("jql") or (request.json_body or {}).get("jql", "")
        if f"project = {project_id}" in jql:
            return ApiResponse(400, {"errorMessages": ["The value does not exist"], "errors": {}})
        return jira.search_jql(request)

    return handler
