"""The OpenSearch node stopped and started again under a sync, a permissions run and searches.

A real node of its own (``node.py``), never the shared one. One stop and one start serve every
check, since a start costs 30-70 s: two runs are paused at a known event, the node is stopped,
the runs go on and fail, the service answers 503 meanwhile; then the node comes back, the
service recovers by itself, and the next runs converge to the sources exactly.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from indexer.backends import Stores
from indexer.backends.opensearch import open_opensearch
from indexer.runner import SyncRunner
from indexer.settings import OpenSearchSettings
from indexer.state_store import LeaseHeldError, RunRecord
from retrieval.identity import IdentityResolver
from retrieval.searcher import Searcher
from retrieval.service.app import create_app
from retrieval.service.keys import ApiKeyStore, Capability, create_key
from retrieval.service.settings import ServiceSettings
from retrieval.settings import RetrievalSettings
from tests.conftest import delete_opensearch_indices
from tests.connectors.scripted import Doc
from tests.faults.node import FaultNode, free_port_pair
from tests.faults.sources import (
    EMBEDDER,
    ORG,
    GatedConnector,
    assert_matches_source,
    external_ids,
    runner,
    seeded_docs,
    user,
)
from tests.retrieval.service.conftest import running_server

pytestmark = [pytest.mark.opensearch, pytest.mark.xdist_group("faults-opensearch-node")]

# Set to reuse a node already started with the script on that port (local iterations).
PORT_ENV = "PERMINDEX_FAULTS_OPENSEARCH_PORT"


@pytest.fixture(scope="module")
def node() -> Iterator[FaultNode]:
    reuse = os.environ.get(PORT_ENV)
    fault_node = FaultNode(int(reuse) if reuse else free_port_pair())
    try:
        # Inside the try: a start that timed out leaves a node starting, stopped below.
        fault_node.start()
        yield fault_node
    finally:
        fault_node.stop()
        if not reuse:
            fault_node.remove()


@contextmanager
def serving(stores: Stores, keys_path: Path) -> Iterator[str]:
    settings = ServiceSettings(
        keys_file=keys_path, readiness_cache_s=0, readiness_timeout_s=10, time_budget_s=15
    )
    searcher = Searcher(stores.index, EMBEDDER, RetrievalSettings(org=ORG))
    app = create_app(
        searcher,
        IdentityResolver(stores.directory, ORG),
        ApiKeyStore.from_file(keys_path),
        settings,
    )
    with running_server(app) as url:
        yield url


@dataclass
class Answer:
    status: int
    retry_after: str | None
    body: dict[str, object]


def call(url: str, key: str | None = None, payload: dict[str, object] | None = None) -> Answer:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, response.headers.get("Retry-After"), _json(response))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers.get("Retry-After"), _json(error))


def _json(response: object) -> dict[str, object]:
    raw = response.read()  # type: ignore[attr-defined]
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {"raw": raw.decode("utf-8", "replace")}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def search(base: str, key: str, email: str, query: str) -> Answer:
    payload: dict[str, object] = {"user": email, "query": query, "mode": "keyword", "top_k": 50}
    return call(f"{base}/v1/search", key, payload)


def titles(answer: Answer) -> set[str]:
    results = answer.body.get("results")
    assert isinstance(results, list), answer.body
    return {str(result["title"]) for result in results}


@dataclass
class QueryLoad:
    """Searches and readiness probes in a loop on two threads, every answer kept in order."""

    base: str
    key: str
    answers: list[tuple[float, str, Answer]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> QueryLoad:
        for kind in ("search", "ready"):
            thread = threading.Thread(target=self._loop, args=(kind,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _loop(self, kind: str) -> None:
        while not self._stop.is_set():
            if kind == "search":
                answer = search(self.base, self.key, "alice@acme.com", "zebrafish")
            else:
                answer = call(f"{self.base}/readyz")
            self.answers.append((time.monotonic(), kind, answer))
            self._stop.wait(0.2)

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def wait_until(predicate: object, timeout_s: float, what: str) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - began
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout_s:.0f} s")


# Two node starts under a loaded machine can outlast the suite's default 600 s.
@pytest.mark.timeout(1200)
def test_node_stopped_mid_sync_and_mid_permissions_run_then_restarted(
    node: FaultNode, tmp_path: Path
) -> None:
    prefix = f"pf{uuid.uuid4().hex[:12]}"
    stores = open_opensearch(
        OpenSearchSettings(url=node.url, index_prefix=prefix, timeout_s=30), 16
    )
    keys_path = tmp_path / "keys.yaml"
    key = create_key(keys_path, "search", {Capability.SEARCH})[1]
    try:
        _scenario(node, stores, keys_path, key)
    finally:
        stores.close()
        delete_opensearch_indices(node.url, prefix)


def _scenario(node: FaultNode, stores: Stores, keys_path: Path, key: str) -> None:
    wiki = seeded_docs("zebrafish")
    crm = seeded_docs("walrus")
    for source_id, docs in (("wiki", wiki), ("crm", crm)):
        seeded = GatedConnector(source_id=source_id, docs=docs, scopes=["a", "b"])
        record = runner(seeded, stores).run("full")
        assert record.status == "succeeded", record.message
    checkpoints = {s: stores.state.get_checkpoint(s) for s in ("wiki", "crm")}

    # The sources change: a page deleted, one edited, one added; on the crm, bob loses a/0 and
    # carol gains a/1. The runs that should carry this over are the ones the outage breaks.
    del wiki["a/0"]
    wiki["a/1"] = Doc(scope="a", body="zebrafish rewritten", acl=wiki["a/1"].acl, version="2")
    wiki["b/9"] = Doc(scope="b", body="zebrafish added", acl=frozenset({user("carol@acme.com")}))
    crm["a/0"].acl = frozenset({user("alice@acme.com")})
    crm["a/1"].acl = crm["a/1"].acl | {user("carol@acme.com")}

    sync = GatedConnector(source_id="wiki", docs=wiki, scopes=["a", "b"], pause_at=2)
    perms = GatedConnector(source_id="crm", docs=crm, scopes=["a", "b"], pause_at=1)
    records: dict[str, RunRecord] = {}

    def run(name: str, sync_runner: SyncRunner, run_type: str) -> None:
        records[name] = sync_runner.run(run_type)

    threads = [
        threading.Thread(target=run, args=("sync", runner(sync, stores), "full")),
        threading.Thread(target=run, args=("permissions", runner(perms, stores), "permissions")),
    ]
    with serving(stores, keys_path) as base:
        before = search(base, key, "alice@acme.com", "zebrafish")
        assert before.status == 200
        assert "a/0" in titles(before)
        with QueryLoad(base, key) as load:
            for thread in threads:
                thread.start()
            assert sync.reached.wait(60) and perms.reached.wait(60), "the runs did not start"
            node.stop()
            stopped_at = time.monotonic()
            sync.resume.set()
            perms.resume.set()
            for thread in threads:
                thread.join(timeout=120)

            # Both runs stopped as failed, saying why; neither was allowed to pretend.
            for name in ("sync", "permissions"):
                assert records[name].status == "failed", (name, records[name].message)
                assert "index unavailable" in (records[name].message or ""), records[name].message

            down = search(base, key, "alice@acme.com", "zebrafish")
            assert down.status == 503, down.body
            assert down.retry_after, "a 503 without Retry-After"
            error = down.body.get("error")
            assert isinstance(error, dict) and error["code"] == "index_unavailable"
            assert call(f"{base}/readyz").status == 503
            assert call(f"{base}/healthz").status == 200  # alive, only not ready

            node.start()
            restarted_at = time.monotonic()
            # Nobody restarts the service: it answers again on its own.
            wait_until(lambda: call(f"{base}/readyz").status == 200, 60, "readiness after restart")
            wait_until(
                lambda: search(base, key, "alice@acme.com", "zebrafish").status == 200,
                60,
                "search after restart",
            )
            time.sleep(0.5)  # a few more answers of the load after recovery

        statuses = {answer.status for _, _, answer in load.answers}
        # 503 while the node refuses connections; 504 when a search outlasts its budget on a
        # node that accepts them but is still starting; never a 500.
        assert statuses <= {200, 503, 504}, f"the service answered {statuses} during the outage"
        refused = [a for _, kind, a in load.answers if kind == "search" and a.status == 503]
        assert all(a.retry_after for a in refused), "a refused search without Retry-After"
        outage = [a.status for t, _, a in load.answers if stopped_at + 5 < t < restarted_at - 60]
        assert 503 in outage or not outage
        assert [a.status for t, k, a in load.answers if k == "search"][-1] == 200

        # Checkpoints survived the restart and were not advanced by the failed runs.
        assert {s: stores.state.get_checkpoint(s) for s in ("wiki", "crm")} == checkpoints
        # The failed runs could not record their end while the node was down; they are never
        # recorded as having succeeded.
        for source_id in ("wiki", "crm"):
            latest = stores.state.recent_runs(source_id, limit=1)[0]
            assert latest.status != "succeeded"

        # What the source dropped is still indexed until a run succeeds: the outage lost
        # nothing, and removed nothing either.
        assert "a/0" in external_ids(stores, "wiki")

        # The next runs converge exactly.
        for source_id, docs, run_type in (("wiki", wiki, "full"), ("crm", crm, "permissions")):
            connector = GatedConnector(source_id=source_id, docs=docs, scopes=["a", "b"])
            record = wait_for_lease(runner(connector, stores), run_type)
            assert record.status == "succeeded", record.message
        assert_matches_source(stores, "wiki", wiki)
        assert_matches_source(stores, "crm", crm)

        after = search(base, key, "alice@acme.com", "zebrafish")
        assert after.status == 200
        assert "a/0" not in titles(after) and "a/1" in titles(after)
        assert "a/0" not in titles(search(base, key, "bob@acme.com", "walrus"))
        assert "a/1" in titles(search(base, key, "carol@acme.com", "walrus"))


def wait_for_lease(sync_runner: SyncRunner, run_type: str) -> RunRecord:
    """The failed runs could not release their lease; it expires after the runner's TTL."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return sync_runner.run(run_type)
        except LeaseHeldError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
