"""A seeded Jira site on the emulator, the real connector over the real SDK, and what users find.

``seed_site`` builds the site every test starts from; ``Harness`` runs sync runs into real
stores and answers "what does this person find" through the identity resolver and the index's
own ACL-filtered search, as a user of permindex would see it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from connectors.gateway import GatewayRetryPolicy
from connectors.jira.config import ApiTokenAuth
from connectors.jira.connector import JiraConnector
from connectors.jira.gateway import JiraGateway
from connectors.org import OrgPolicy
from indexer.backends import Stores
from indexer.embedding import HashingEmbedder
from indexer.records import SearchFilters
from indexer.retry import RetryPolicy
from indexer.runner import RunType, SyncRunner
from indexer.settings import ChunkingSettings
from indexer.state_store import RunRecord
from retrieval.identity import IdentityResolver
from tests.emulators.jira import JiraEmulator

SOURCE = "jira"
ORG = OrgPolicy(tenant="acme", domains=frozenset({"acme.com"}), member_sources=frozenset({SOURCE}))
EMBEDDER = HashingEmbedder(16)
BROWSE = "BROWSE_PROJECTS"


@dataclass
class Site:
    """Ids of what ``seed_site`` made, for tests to change."""

    alice: str  # eng, ENG's lead
    bob: str  # eng
    carol: str  # sales
    dave: str  # licensed, in no group; ENG role "Developers" actor
    erin: str  # eng, email hidden
    eng: str
    sales: str
    licensed: str
    eng_project: str
    ops_project: str
    eng_scheme: int
    ops_scheme: int
    leads_level: str
    login: str  # ENG-1
    billing: str  # ENG-2, at the leads level
    runbook: str  # OPS-1


def seed_site(jira: JiraEmulator) -> Site:
    alice = jira.add_user("Alice", "alice@acme.com")
    bob = jira.add_user("Bob", "bob@acme.com")
    carol = jira.add_user("Carol", "carol@acme.com")
    dave = jira.add_user("Dave", "dave@acme.com")
    erin = jira.add_user("Erin", None)
    eng = jira.add_group("eng", {alice, bob, erin})
    sales = jira.add_group("sales", {carol})
    licensed = jira.add_group("jira-users", {alice, bob, carol, dave, erin})
    jira.state.app_roles["jira-software"] = [licensed]
    eng_scheme = jira.add_scheme(
        [
            (BROWSE, "group", eng),
            (BROWSE, "projectRole", "10002"),
            (BROWSE, "reporter", None),
            ("EDIT_ISSUES", "anyone", None),  # not a browse grant: admits nobody to read
        ]
    )
    ops_scheme = jira.add_scheme([(BROWSE, "applicationRole", "jira-software")])
    eng_project = jira.add_project("ENG", alice, eng_scheme)
    ops_project = jira.add_project("OPS", bob, ops_scheme)
    jira.state.projects[eng_project].roles["10002"] = [("user", dave)]
    leads_level = jira.add_level([("projectLead", None), ("group", sales)])
    login = jira.add_issue(
        eng_project,
        "Login outage",
        "The login service drops sessions after a deploy.",
        bob,
        assignee=alice,
        labels=["incident"],
        components=["auth"],
    )
    billing = jira.add_issue(
        eng_project, "Billing rewrite", "Quarterly pricing overhaul plan.", alice, level=leads_level
    )
    runbook = jira.add_issue(ops_project, "Pager runbook", "Escalation ladder for the pager.", bob)
    return Site(
        alice,
        bob,
        carol,
        dave,
        erin,
        eng,
        sales,
        licensed,
        eng_project,
        ops_project,
        eng_scheme,
        ops_scheme,
        leads_level,
        login,
        billing,
        runbook,
    )


def doc_id(jira: JiraEmulator, issue_id: str) -> str:
    """The connector's external id of an issue: its project's id, then the issue's."""
    return f"{jira.state.issues[issue_id].project_id}/{issue_id}"


def no_wait(stop: threading.Event, seconds: float) -> bool:
    return stop.is_set()


def make_connector(jira: JiraEmulator, **options: Any) -> JiraConnector:
    email = "bot@acme.com"
    gateway = JiraGateway(
        jira.url,
        ApiTokenAuth(email=email, token=SecretStr(jira.state.credentials[email])),
        retry=GatewayRetryPolicy(attempts=options.pop("attempts", 6), sleep=lambda _s: None),
        timeout_s=10,
    )
    return JiraConnector(
        source_id=SOURCE, gateway=gateway, org=ORG, clock=lambda: datetime.now(UTC), **options
    )


class Harness:
    def __init__(self, jira: JiraEmulator, stores: Stores, **options: Any) -> None:
        self.jira = jira
        self.stores = stores
        self.options = options
        self.resolver = IdentityResolver(stores.directory, ORG)

    def connector(self) -> JiraConnector:
        return make_connector(self.jira, **self.options)

    def runner(self, connector: JiraConnector | None = None, **options: Any) -> SyncRunner:
        return SyncRunner(
            connector or self.connector(),
            self.stores,
            EMBEDDER,
            chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
            model_name="hashing:16",
            clock=lambda: datetime.now(UTC),
            waiter=no_wait,
            retry=RetryPolicy(attempts=2, sleep=lambda _s: None),
            lease_ttl=timedelta(minutes=5),
            **options,
        )

    def run(
        self, run_type: RunType, connector: JiraConnector | None = None, **options: Any
    ) -> RunRecord:
        record = self.runner(connector, **options).run(run_type)
        assert record.status == "succeeded", (record.status, record.message, record.errors)
        return record

    def sync(self) -> None:
        """A first sync as the schedule does it: groups, then a full run."""
        self.run(RunType.groups)
        self.run(RunType.full)

    def found(self, email: str, query: str) -> set[str]:
        self.stores.index.refresh()
        principals = self.resolver.resolve(email)
        hits = self.stores.index.keyword_search(query, principals, SearchFilters(), k=100)
        return {hit.external_id for hit in hits}

    def who_finds(self, query: str, emails: tuple[str, ...] = ()) -> set[str]:
        everyone = emails or tuple(u.email for u in self.jira.state.users.values() if u.email)
        return {email.split("@")[0] for email in everyone if self.found(email, query)}
