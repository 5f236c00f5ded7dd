"""Channels as units of work: a scope run (what a worker runs) reads, indexes, re-permissions and
deletes its own channel and nothing of the others."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence

from connectors.events import PermissionsChanged
from indexer.provenance import provenance_store_for
from indexer.runner import RunType
from tests.connectors.slack.workspace import SOURCE, Harness, seed


def _acls(harness: Harness) -> dict[str, frozenset[str]]:
    """doc id -> the ACL the index holds."""
    store = provenance_store_for(harness.stores.index)
    assert store is not None
    found: dict[str, frozenset[str]] = {}
    for fingerprint in harness.stores.index.iter_fingerprints(SOURCE):
        held = store.indexed_acl(fingerprint.doc_id)
        assert held is not None
        found[fingerprint.doc_id] = frozenset(held.acl)
    return found


def _channel_of(doc_id: str) -> str:
    return doc_id.split(":", 1)[1].split("/", 1)[0]


class _EveryId:
    """A context that yields every document of the source, as an unscoped run's does."""

    full = False

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = list(ids)
        self.stop = threading.Event()

    def heartbeat(self) -> None:
        return None

    def indexed_versions(self, external_ids: Sequence[str]) -> Mapping[str, str]:
        return {}

    def indexed_ids(self) -> Iterator[str]:
        return iter(self.ids)


def test_the_scopes_are_the_channels_the_connector_walks(harness: Harness) -> None:
    _, channels = seed(harness.slack)
    listed = len(harness.slack.calls_of("conversations.list"))
    scopes = harness.connector().work_scopes()
    assert scopes == sorted(
        c.id for c in (channels.general, channels.eng, channels.secret, channels.connect)
    )
    assert len(harness.slack.calls_of("conversations.list")) == listed + 1
    assert harness.slack.channels_called("conversations.history") == []


def test_a_scoped_permissions_run_leaves_the_other_channels_as_they_were(
    harness: Harness,
) -> None:
    _, channels = seed(harness.slack)
    harness.sync()
    before = _acls(harness)
    queries = {
        "bob@acme.com": "pizza",
        "alice@acme.com": "bluebird",
        "xavier@partner.io": "renewal",
    }
    seen = {email: harness.found(email, query) for email, query in queries.items()}
    assert all(seen.values())
    assert len(harness.found("carol@acme.com", "freeze")) == 1  # #eng is public; she is not in it
    # Both channels go private; only #eng's scope runs.
    harness.slack.state.channels[channels.eng.id].is_private = True
    harness.slack.state.channels[channels.general.id].is_private = True

    record = harness.run(RunType.permissions, scope=channels.eng.id)

    assert record.status == "succeeded", record.message
    assert harness.found("carol@acme.com", "freeze") == set()
    assert len(harness.found("bob@acme.com", "freeze")) == 1  # a member
    after = _acls(harness)
    others = {d for d in before if _channel_of(d) != channels.eng.id}
    assert others and {d: after[d] for d in others} == {d: before[d] for d in others}
    assert {email: harness.found(email, q) for email, q in queries.items()} == seen
    # The connector holds to its channel even when handed every id of the source.
    every = [d.split(":", 1)[1] for d in before]
    events = harness.connector().for_scope(channels.eng.id).permissions(None, _EveryId(every))
    touched = {e.external_id for e in events if isinstance(e, PermissionsChanged)}
    assert touched and {i.split("/", 1)[0] for i in touched} == {channels.eng.id}


def test_a_scoped_incremental_reads_and_indexes_its_channel_only(harness: Harness) -> None:
    people, channels = seed(harness.slack)
    harness.sync()
    now = time.time()
    harness.slack.post(channels.eng.id, people.alice, "zeppelin rollout on eng", ts=now - 60)
    harness.slack.post(channels.general.id, people.bob, "zeppelin tickets on general", ts=now - 30)
    harness.slack.channel_calls.clear()
    listed = len(harness.slack.calls_of("conversations.list"))
    directory = len(harness.slack.calls_of("users.list"))

    record = harness.run(RunType.incremental, scope=channels.eng.id)

    assert record.status == "succeeded", record.message
    assert harness.slack.channels_called("conversations.history") == [channels.eng.id]
    assert set(harness.slack.channels_called("conversations.info")) == {channels.eng.id}
    # No walk of every channel or every person for one channel's run.
    assert len(harness.slack.calls_of("conversations.list")) == listed
    assert len(harness.slack.calls_of("users.list")) == directory
    found = harness.found("bob@acme.com", "zeppelin")
    assert len(found) == 1 and all(title.startswith("#eng") for title in found)
    texts = harness.texts("bob@acme.com", "zeppelin")
    assert any("Alice Smith: zeppelin rollout on eng" in t for t in texts)  # named by users.info


def test_a_scope_run_of_a_deleted_channel_deletes_its_documents_only(harness: Harness) -> None:
    _, channels = seed(harness.slack)
    harness.sync()
    assert len(harness.found("alice@acme.com", "bluebird")) == 1
    del harness.slack.state.channels[channels.secret.id]

    record = harness.run(RunType.incremental, scope=channels.secret.id)

    assert record.status == "succeeded", record.message
    assert harness.found("alice@acme.com", "bluebird") == set()
    assert {_channel_of(d) for d in _acls(harness)} == {
        channels.general.id,
        channels.eng.id,
        channels.connect.id,
    }
    assert len(harness.found("alice@acme.com", "pizza")) == 1


def test_a_scope_run_names_a_bare_channel_mention_as_an_unscoped_run_does(
    harness: Harness,
) -> None:
    people, channels = seed(harness.slack)
    text = f"parachute questions in <#{channels.general.id}> or <#CNOTOURS1>"
    harness.slack.post(channels.eng.id, people.bob, text, ts=time.time() - 60)

    assert harness.run(RunType.groups).status == "succeeded"
    assert harness.run(RunType.full, scope=channels.eng.id).status == "succeeded"

    texts = harness.texts("bob@acme.com", "parachute")
    assert any("parachute questions in #general or #CNOTOURS1" in t for t in texts), texts


def test_an_org_wide_token_scope_run_takes_its_channel_from_the_walk(harness: Harness) -> None:
    people, channels = seed(harness.slack)
    harness.options["team_ids"] = [harness.slack.state.team_id]
    harness.sync()
    harness.slack.post(channels.secret.id, people.carol, "zeppelin budget", ts=time.time() - 60)
    harness.slack.channel_calls.clear()
    listed = len(harness.slack.calls_of("conversations.list"))

    record = harness.run(RunType.incremental, scope=channels.secret.id)

    assert record.status == "succeeded", record.message
    assert len(harness.slack.calls_of("conversations.list")) > listed
    assert harness.slack.channels_called("conversations.history") == [channels.secret.id]
    assert len(harness.found("alice@acme.com", "zeppelin")) == 1
    assert harness.found("bob@acme.com", "zeppelin") == set()
