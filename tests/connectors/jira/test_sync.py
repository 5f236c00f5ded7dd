"""The Jira connector through the real SDK, emulator, runner and index, as users see it."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.errors import RetryableError
from indexer.records import SearchFilters
from indexer.runner import RunType
from tests.connectors.jira.harness import BROWSE, Harness, Site, doc_id
from tests.emulators.base import ApiRequest, ApiResponse, Handler, RateLimited, ServerError
from tests.emulators.jira import JiraEmulator


def test_a_full_sync_indexes_each_issue_under_its_project_and_security_level(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    jira.page_size = 1  # every walk pages: projects, groups, members, searches
    harness.sync()

    # ENG: group eng, the Developers role (dave) and the reporter; never carol, who is in sales.
    assert harness.who_finds("login sessions") == {"alice", "bob", "dave"}
    # ENG-2 is at the leads level: (eng, dave, reporter alice) AND (lead alice, sales).
    assert harness.who_finds("pricing overhaul") == {"alice"}
    # OPS: the licensed users of Jira Software; an address at acme.com alone is not enough.
    assert harness.who_finds("escalation ladder") == {"alice", "bob", "carol", "dave"}
    assert harness.found("mallory@acme.com", "escalation ladder") == set()
    # Issues are keyed by id, not by key; key fields ride along as metadata.
    assert harness.found("alice@acme.com", "login") == {doc_id(jira, site.login)}
    harness.stores.index.refresh()
    filters = SearchFilters(metadata={"status": ["To Do"], "labels": ["incident"]})
    principals = harness.resolver.resolve("alice@acme.com")
    hits = harness.stores.index.keyword_search("login", principals, filters, k=5)
    assert [(h.external_id, h.metadata["key"], h.metadata["assignee"]) for h in hits] == [
        (doc_id(jira, site.login), "ENG-1", "Alice")
    ]


def test_edits_and_new_issues_reach_search_on_the_next_incremental_run(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    harness.sync()
    jira.edit_issue(site.login, description="Sessions expire because of clock skew.")
    jira.add_comment(site.login, site.bob, "Rolled back the canary.")
    new = jira.add_issue(
        site.ops_project, "Disk alarms", "Volume nearly full on the cache.", site.bob
    )

    record = harness.run(RunType.incremental)

    assert record.counts.created == 1 and record.counts.updated == 1
    assert harness.found("alice@acme.com", "clock skew") == {doc_id(jira, site.login)}
    assert harness.found("alice@acme.com", "canary") == {doc_id(jira, site.login)}
    assert harness.found("alice@acme.com", "deploy") == set()
    assert harness.found("carol@acme.com", "volume cache") == {doc_id(jira, new)}


def test_a_status_or_assignee_change_rewrites_fields_and_re_embeds_nothing(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    harness.sync()
    jira.edit_issue(site.login, status="In Progress", assignee=site.bob)

    record = harness.run(RunType.incremental)

    assert record.counts.chunks_embedded == 0
    assert record.counts.fields_updated == 1 and record.counts.updated == 0
    harness.stores.index.refresh()
    principals = harness.resolver.resolve("alice@acme.com")
    filters = SearchFilters(metadata={"status": ["In Progress"]})
    hits = harness.stores.index.keyword_search("login", principals, filters, k=5)
    assert [(h.external_id, h.metadata["assignee"]) for h in hits] == [
        (doc_id(jira, site.login), "Bob")
    ]


def test_an_issue_moved_to_a_restricted_level_disappears_for_non_members_after_a_permissions_run(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    harness.sync()
    assert "bob" in harness.who_finds("login sessions")
    # Set without moving `updated`, as a level change through a scheme migration does: only a
    # permissions run can see it.
    jira.state.issues[site.login].level = site.leads_level

    harness.run(RunType.permissions)

    assert harness.who_finds("login sessions") == {"alice"}
    # The level's members change (sales leaves, eng joins): again no `updated`.
    jira.state.levels[site.leads_level] = ("10000", [("group", site.eng)])
    harness.run(RunType.permissions)
    assert harness.who_finds("login sessions") == {"alice", "bob"}  # erin: email hidden
    assert harness.who_finds("pricing overhaul") == {"alice", "bob"}


def test_a_scheme_change_reaches_search_through_a_permissions_run(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    harness.sync()
    jira.state.schemes[site.ops_scheme] = [(BROWSE, "group", site.sales)]

    harness.run(RunType.permissions)

    assert harness.who_finds("escalation ladder") == {"carol"}


def test_a_restricted_comment_is_never_found_outside_its_group(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    jira.add_comment(site.runbook, site.bob, "Public note: rotate weekly.")
    jira.add_comment(
        site.runbook,
        site.bob,
        "Vendor contract penalty clauses.",
        {"type": "group", "value": "eng", "identifier": site.eng},
    )
    jira.add_comment(
        site.runbook, site.bob, "Severance list draft.", {"type": "role", "value": "Admins"}
    )
    harness.sync()
    jira.edit_issue(site.runbook, summary="Pager runbook v2")
    harness.run(RunType.incremental)
    harness.run(RunType.permissions)

    assert harness.who_finds("rotate weekly") == {"alice", "bob", "carol", "dave"}
    # Left out of the index (docs/connectors/jira.md): not under the issue's wider ACL, and
    # not found by anyone, members of its group included.
    assert harness.who_finds("vendor contract penalty") == set()
    assert harness.who_finds("severance") == set()


def test_an_issue_moved_between_projects_takes_the_new_projects_id_and_permissions(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    harness.sync()
    assert "carol" in harness.who_finds("escalation ladder")
    jira.edit_issue(site.runbook, project_id=site.eng_project)  # OPS-1 becomes ENG-3

    record = harness.run(RunType.incremental)

    # The copy under OPS goes in the same run, not at the next pruning.
    assert record.counts.created == 1 and record.counts.deleted == 1
    assert harness.who_finds("escalation ladder") == {"alice", "bob", "dave"}
    harness.stores.index.refresh()
    hits = harness.stores.index.keyword_search(
        "escalation", harness.resolver.resolve("bob@acme.com"), SearchFilters(), k=5
    )
    assert [(h.external_id, h.title, h.metadata["project"]) for h in hits] == [
        (f"{site.eng_project}/{site.runbook}", "ENG-3: Pager runbook", "ENG")
    ]
    assert harness.run(RunType.prune).counts.deleted == 0


def test_an_issue_moved_out_of_the_configured_projects_is_hidden_then_pruned(
    jira: JiraEmulator, site: Site, harness: Harness
) -> None:
    scoped = Harness(jira, harness.stores, projects=frozenset({"OPS"}))
    scoped.sync()
    jira.edit_issue(site.runbook, project_id=site.eng_project)

    scoped.run(RunType.permissions)
    assert scoped.who_finds("escalation ladder") == set()
    assert scoped.run(RunType.prune).counts.deleted == 1


def test_a_storm_of_429s_completes_with_the_same_index(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    # Every third call of every route is refused: 429 with Retry-After, or 503.
    for after in range(0, 300, 3):
        jira.inject("*", RateLimited(after=after, retry_after="1"))
        jira.inject("search/jql", ServerError(status=503, after=after + 1))

    harness.run(RunType.groups)
    harness.run(RunType.full)

    refused = [c for c in jira.calls if c.status in (429, 503)]
    assert len(refused) > 10
    assert harness.who_finds("login sessions") == {"alice", "bob", "dave"}
    assert harness.who_finds("pricing overhaul") == {"alice"}
    assert harness.who_finds("escalation ladder") == {"alice", "bob", "carol", "dave"}


def test_a_listing_that_fails_deletes_nothing(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    harness.sync()
    jira.delete_issue(site.runbook)
    jira.inject("search/jql", ServerError(status=500, times=None, after=1))

    record = harness.runner().run(RunType.prune)

    assert record.status == "failed"
    assert "nothing was pruned" in (record.message or "")
    assert harness.found("bob@acme.com", "escalation ladder") == {
        f"{site.ops_project}/{site.runbook}"
    }
    # One project whose search is refused (a 400, not retryable) fails the listing too.
    jira.clear_faults()
    jira.handlers["search/jql"] = _refuse_project(jira, site.eng_project)
    record = harness.runner().run(RunType.prune)
    assert record.counts.deleted == 0
    assert harness.found("bob@acme.com", "escalation ladder") == {
        f"{site.ops_project}/{site.runbook}"
    }
    jira.handlers = dict(jira.default_handlers())
    assert harness.run(RunType.prune).counts.deleted == 1
    assert harness.found("bob@acme.com", "escalation ladder") == set()


def _refuse_project(jira: JiraEmulator, project_id: str) -> Handler:
    def handler(request: ApiRequest) -> ApiResponse:
        jql = request.query.get("jql") or (request.json_body or {}).get("jql", "")
        if f"project = {project_id}" in jql:
            return ApiResponse(400, {"errorMessages": ["The value does not exist"], "errors": {}})
        return jira.search_jql(request)

    return handler


def test_an_unreadable_permission_scheme_hides_the_project_and_is_recorded(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    harness.sync()
    jira.state.projects[site.ops_project].scheme_id = 99999  # a scheme the API cannot find

    record = harness.runner().run(RunType.full)

    assert record.status == "succeeded"
    assert {e.doc_id for e in record.errors} == {f"jira:{site.ops_project}/{site.runbook}"}
    assert "permission scheme" in record.errors[0].reason
    assert harness.who_finds("escalation ladder") == set()
    assert harness.who_finds("login sessions") == {"alice", "bob", "dave"}


def test_hidden_emails_are_counted_and_their_accounts_find_nothing_by_email(
    harness: Harness, site: Site
) -> None:
    connector = harness.connector()
    mappings = list(connector.identities())
    assert connector.hidden_emails == 1
    assert f"account:jira:{site.erin}" not in {m.account for m in mappings}
    # The operator sees the count in the groups run's record, kept in the state store.
    record = harness.runner().run(RunType.groups)
    assert record.notes == {"hidden_emails": 1}
    assert harness.runner().run(RunType.incremental).notes == {}


def test_revoked_credentials_stop_the_run_without_advancing_it(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    harness.sync()
    jira.edit_issue(site.login, summary="Login outage resolved")
    jira.revoke_auth_after(3)

    record = harness.runner().run(RunType.incremental)
    assert record.status == "failed"

    jira.restore_auth()
    harness.run(RunType.incremental)
    assert harness.found("alice@acme.com", "resolved") == {doc_id(jira, site.login)}


def test_a_retryable_error_past_the_gateway_budget_reaches_the_runner(
    jira: JiraEmulator, site: Site, harness: Harness
) -> None:
    jira.inject("project/search", ServerError(status=503, times=None))
    connector = harness.connector()
    try:
        list(connector.changes(None))
    except RetryableError as exc:
        assert "503" in str(exc)
    else:
        raise AssertionError("a source refusing every call must raise RetryableError")


def test_windows_past_the_page_cap_restart_at_the_last_updated_and_index_everything(
    jira: JiraEmulator, site: Site, harness: Harness
) -> None:
    for n in range(5):
        jira.add_issue(site.ops_project, f"Rota {n}", f"zebrafish rota week {n}", site.bob)
    jira.page_size = 2
    capped = Harness(jira, harness.stores, max_pages=1)

    capped.sync()

    windows = [c for c in jira.calls if c.route == "search/jql" and c.method == "post"]
    assert len(windows) >= 4  # one page per window: the cap, not the last page, ended each
    assert len(capped.found("carol@acme.com", "zebrafish rota")) == 5


def test_an_oauth_bearer_token_syncs_and_a_wrong_token_is_a_configuration_error(
    jira: JiraEmulator, site: Site, harness: Harness
) -> None:
    from pydantic import SecretStr

    from connectors.errors import ConnectorConfigError
    from connectors.jira.config import ApiTokenAuth, BearerAuth
    from connectors.jira.connector import JiraConnector
    from connectors.jira.gateway import JiraGateway
    from tests.connectors.jira.harness import ORG

    def connector(auth: ApiTokenAuth | BearerAuth) -> JiraConnector:
        gateway = JiraGateway(jira.url, auth, timeout_s=10)
        return JiraConnector(source_id="jira", gateway=gateway, org=ORG, clock=_now)

    bearer = connector(BearerAuth(token=SecretStr(next(iter(jira.state.bearer_tokens)))))
    bearer.validate()
    assert {e.external_id for e in bearer.list_live_ids() if e.kind == "live"} == {
        doc_id(jira, site.login),
        doc_id(jira, site.billing),
        doc_id(jira, site.runbook),
    }
    wrong = connector(ApiTokenAuth(email="bot@acme.com", token=SecretStr("not-the-token")))
    try:
        wrong.validate()
    except ConnectorConfigError as exc:
        assert "credential refused" in str(exc)
    else:
        raise AssertionError("a refused credential must fail validation")


def _now() -> datetime:
    return datetime.now(UTC)


def test_level_members_the_credential_may_not_read_hide_those_issues_and_the_run_goes_on(
    harness: Harness, jira: JiraEmulator, site: Site
) -> None:
    harness.sync()
    assert harness.who_finds("pricing overhaul") == {"alice"}
    jira.handlers["level/member"] = lambda _request: ApiResponse(
        403, {"errorMessages": ["You need the Administer Jira permission."], "errors": {}}
    )
    jira.edit_issue(site.login, summary="Login outage fixed")

    record = harness.run(RunType.permissions)

    assert [e.doc_id for e in record.errors] == [] and record.counts.acl_updated == 1
    assert harness.who_finds("pricing overhaul") == set()
    assert harness.who_finds("login sessions") == {"alice", "bob", "dave"}
    record = harness.run(RunType.full)
    assert [e.doc_id for e in record.errors] == [f"jira:{doc_id(jira, site.billing)}"]
    assert "not allowed" in record.errors[0].reason
    assert harness.who_finds("pricing overhaul") == set()
    assert harness.who_finds("outage fixed") == {"alice", "bob", "dave"}
