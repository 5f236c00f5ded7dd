"""Every SaaS connector through every fault its emulator can inject, in the middle of a full run.

The per-connector suites test their own answers to 429s, 5xx and revoked tokens on chosen
routes; this is the matrix across connectors, with the faults they do not all cover (a body cut
short, a response held past the client's timeout), on whatever route the run is at halfway. A
transient fault is survived: the run succeeds and the index holds what it held. A lasting one
(a source down past the retries, a token revoked) stops the run: failed, the checkpoint where it
was, nothing deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from indexer.backends import Stores
from indexer.embedding import HashingEmbedder
from indexer.retry import RetryPolicy
from indexer.runner import SyncRunner
from indexer.settings import ChunkingSettings
from indexer.state_store import RunRecord
from tests.conftest import MakeStores
from tests.emulators.base import CallRecord, Hang, RateLimited, ServerError, Truncated
from tests.faults.saas_sources import ADAPTERS, SaasSource, now, saas_source

EMBEDDER = HashingEmbedder(16)


def storm(source: SaasSource, clean: list[CallRecord]) -> None:
    # Refusals in a row, as many as one gateway call absorbs (4 attempts), on whatever the run
    # is at: in the changes stream or in the listing that decides what to prune.
    source.emulator.inject("*", RateLimited(retry_after="1", times=3, after=len(clean) // 2))


def server_errors(source: SaasSource, clean: list[CallRecord]) -> None:
    halfway = len(clean) // 2
    source.emulator.inject("*", ServerError(status=502, times=2, after=halfway))
    later = ServerError(status=503, retry_after="1", times=1, after=halfway + 3)
    source.emulator.inject("*", later)


def truncated(source: SaasSource, clean: list[CallRecord]) -> None:
    # On a JSON answer: a download cut to a matching Content-Length is just a shorter file, which
    # no client can tell (a real cut-off connection is a transport error, the "timeout" case).
    json_calls = [call.route for call in clean if call.route not in source.raw_routes]
    route = json_calls[len(json_calls) // 2]
    before = json_calls[: len(json_calls) // 2].count(route)
    source.emulator.inject(route, Truncated(keep=0.5, times=1, after=before))


def timeout(source: SaasSource, clean: list[CallRecord]) -> None:
    source.emulator.inject("*", Hang(seconds=30, times=1, after=len(clean) // 2))


def down(source: SaasSource, clean: list[CallRecord]) -> None:
    source.emulator.inject("*", ServerError(status=503, times=None, after=len(clean) // 2))


def revoked(source: SaasSource, clean: list[CallRecord]) -> None:
    source.emulator.revoke_auth_after(len(clean) // 2)


Inject = Callable[[SaasSource, list[CallRecord]], None]
TRANSIENT: dict[str, Inject] = {
    "429_storm": storm,
    "5xx": server_errors,
    "truncated_json": truncated,
    "timeout": timeout,
}
LASTING: dict[str, Inject] = {"source_down": down, "auth_revoked": revoked}


def sync_runner(source: SaasSource, stores: Stores) -> SyncRunner:
    return SyncRunner(
        source.connector(),
        stores,
        EMBEDDER,
        chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
        model_name="hashing:16",
        clock=now,
        waiter=lambda stop, _seconds: stop.is_set(),
        retry=RetryPolicy(attempts=2, sleep=lambda _s: None),
        source_attempts=4,
        max_source_wait=timedelta(minutes=5),
        lease_ttl=timedelta(minutes=5),
    )


def indexed(stores: Stores, source_id: str) -> dict[str, str]:
    stores.index.refresh()
    return {
        fp.external_id: fp.content_fingerprint + fp.acl_fingerprint
        for fp in stores.index.iter_fingerprints(source_id)
    }


def faulty_run(
    name: str, inject: Inject, tmp_path: Path, make_stores: MakeStores
) -> tuple[SaasSource, Stores, RunRecord, dict[str, str], object]:
    """A clean full run, then a full run with the fault injected halfway through its calls."""
    stores = make_stores(EMBEDDER.dimension)
    stores.index.ensure_schema()
    with saas_source(name, tmp_path) as source:
        # Two clean runs: the second makes the calls a run over an indexed source makes.
        for _ in range(2):
            began = len(source.emulator.calls)
            clean = sync_runner(source, stores).run("full")
            assert clean.status == "succeeded", clean.message
        before = indexed(stores, source.source_id)
        assert before, "the seeded source indexed nothing"
        checkpoint = stores.state.get_checkpoint(source.source_id)
        inject(source, source.emulator.calls[began:])
        record = sync_runner(source, stores).run("full")
        fired = source.emulator.faults_fired() or source.emulator.revoked_tokens
        assert fired, "the fault never fired"
    return source, stores, record, before, checkpoint


@pytest.mark.parametrize("fault", sorted(TRANSIENT))
@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_transient_fault_is_survived(
    name: str, fault: str, tmp_path: Path, make_stores: MakeStores
) -> None:
    source, stores, record, before, _ = faulty_run(name, TRANSIENT[fault], tmp_path, make_stores)
    assert record.status == "succeeded", record.message
    assert indexed(stores, source.source_id) == before


@pytest.mark.parametrize("fault", sorted(LASTING))
@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_lasting_fault_stops_the_run_cleanly(
    name: str, fault: str, tmp_path: Path, make_stores: MakeStores
) -> None:
    source, stores, record, before, checkpoint = faulty_run(
        name, LASTING[fault], tmp_path, make_stores
    )
    assert record.status == "failed", record.message
    assert stores.state.get_checkpoint(source.source_id) == checkpoint
    assert indexed(stores, source.source_id) == before  # nothing deleted, nothing half-written
