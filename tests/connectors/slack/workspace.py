"""A seeded Slack workspace on the emulator, the Slack connector over it, and what users find.

Everything is real but the Slack service: slack-sdk talks HTTP to the emulator, the runner writes
the index, and ``Harness.found`` asks the searcher as the person with that email would (their
principals resolved from the synced directory, as retrieval does).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.gateway import BudgetsPerKey, GatewayRetryPolicy, TokenBucket
from connectors.org import OrgPolicy
from connectors.slack import SlackConnector
from connectors.slack.gateway import SlackGateway
from indexer.backends import Stores
from indexer.embedding import HashingEmbedder
from indexer.retry import RetryPolicy
from indexer.runner import RunType, SyncRunner
from indexer.settings import ChunkingSettings
from retrieval.audit import AuditRecord
from retrieval.identity import IdentityResolver
from retrieval.models import SearchQuery
from retrieval.searcher import Searcher
from retrieval.settings import RetrievalSettings
from tests.emulators.slack import SlackChannel, SlackEmulator

SOURCE = "chat"
ORG = OrgPolicy(tenant="acme", domains=frozenset({"acme.com"}), member_sources=frozenset({SOURCE}))
EMBEDDER = HashingEmbedder(16)
EXTERNAL_TEAM = "TPARTNER01"
DAY = 86_400.0


def utcnow() -> datetime:
    # The backends stamp indexed_at with wall time, so the connector's clock is wall time too.
    return datetime.now(UTC)


def no_wait(stop: threading.Event, seconds: float) -> bool:
    return stop.is_set()


class NoAudit:
    def record(self, record: AuditRecord) -> None:
        pass


@dataclass
class People:
    alice: str
    bob: str
    carol: str
    gina: str  # a guest
    xavier: str  # a Slack Connect external member, partner.io


@dataclass
class Channels:
    general: SlackChannel
    eng: SlackChannel
    secret: SlackChannel
    connect: SlackChannel


def seed(slack: SlackEmulator, now: float | None = None) -> tuple[People, Channels]:
    """Four channels with a few threads and loose messages, some of them a month old."""
    now = time.time() if now is None else now
    alice = slack.add_user("Alice Smith", "alice@acme.com").id
    bob = slack.add_user("Bob Jones", "bob@acme.com").id
    carol = slack.add_user("Carol King", "carol@acme.com").id
    gina = slack.add_user("Gina Guest", "gina@acme.com", is_restricted=True).id
    xavier = slack.add_user("Xavier Partner", "xavier@partner.io", team_id=EXTERNAL_TEAM).id
    people = People(alice, bob, carol, gina, xavier)
    general = slack.add_channel("general", [alice, bob, carol])
    eng = slack.add_channel("eng", [alice, bob, gina])
    secret = slack.add_channel("secret", [alice, carol], is_private=True)
    connect = slack.add_channel(
        "partners", [alice, xavier], is_ext_shared=True, connected_team_ids=[EXTERNAL_TEAM]
    )
    old = now - 31 * DAY
    root = slack.post(general.id, alice, f"Offsite planning thread <@{bob}>", ts=old)
    slack.reply(general.id, root.ts, bob, "Lisbon sounds good", ts=old + 60)
    slack.post(general.id, bob, "lunch menu is pizza", ts=now - 2 * DAY)
    slack.post(general.id, carol, "parking garage closes early", ts=now - 2 * DAY + 30)
    slack.post(eng.id, alice, "deploy freeze starts friday", ts=now - 3 * DAY)
    slack.post(secret.id, carol, "acquisition codename bluebird", ts=now - 4 * DAY)
    slack.post(connect.id, xavier, "partner contract renewal draft", ts=now - 5 * DAY)
    return people, Channels(general, eng, secret, connect)


class SimulatedTime:
    """Seconds that pass only when someone waits: the gateway's waits and the emulator's limits
    share it, so a Retry-After is honoured without the test sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def connector(
    slack: SlackEmulator, *, sleep: Callable[[float], None] | None = None, **options: Any
) -> SlackConnector:
    policy = GatewayRetryPolicy(sleep=sleep or (lambda _s: None))
    # Budgets far above the tiers: tests check the answers to 429s, not client-side pacing.
    budgets = BudgetsPerKey(lambda _method: TokenBucket(10_000.0, 10_000.0))
    gateway = SlackGateway(
        slack.state.bot_token, base_url=slack.url + "/api/", policy=policy, budgets=budgets
    )
    return SlackConnector(source_id=SOURCE, gateway=gateway, org=ORG, clock=utcnow, **options)


class Harness:
    """One Slack source indexed into ``stores``; runs and searches as users do."""

    def __init__(self, slack: SlackEmulator, stores: Stores, **options: Any) -> None:
        self.slack = slack
        self.stores = stores
        self.options = options
        self.resolver = IdentityResolver(stores.directory, ORG)
        self.searcher = Searcher(
            stores.index, EMBEDDER, RetrievalSettings(org=ORG, max_top_k=100), audit=NoAudit()
        )

    def connector(self) -> SlackConnector:
        return connector(self.slack, **self.options)

    def run(self, run_type: RunType | str, *, scope: str = "", **options: Any) -> Any:
        """One run; with ``scope``, the run of that channel alone, as a worker runs it."""
        connector = self.connector()
        runner = SyncRunner(
            connector.for_scope(scope) if scope else connector,
            self.stores,
            EMBEDDER,
            chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
            model_name="hashing:16",
            clock=utcnow,
            waiter=no_wait,
            retry=RetryPolicy(attempts=2, sleep=lambda _s: None),
            lease_ttl=timedelta(minutes=5),
            scope=scope,
            **options,
        )
        return runner.run(run_type)

    def sync(self) -> None:
        """What a fresh deployment does first: a groups run, then a full run."""
        for run_type in (RunType.groups, RunType.full):
            record = self.run(run_type)
            assert record.status == "succeeded", record.message

    def found(self, email: str, query: str) -> set[str]:
        """Titles of what ``email`` finds for ``query``."""
        self.stores.index.refresh()
        principals = self.resolver.resolve(email)
        response = self.searcher.search(
            principals, SearchQuery(query=query, mode="keyword", top_k=50), caller=email
        )
        return {result.title for result in response.results}

    def texts(self, email: str, query: str) -> list[str]:
        self.stores.index.refresh()
        principals = self.resolver.resolve(email)
        response = self.searcher.search(
            principals,
            SearchQuery(query=query, mode="keyword", top_k=50, max_chunks_per_doc=20),
            caller=email,
        )
        return [result.text for result in response.results]
