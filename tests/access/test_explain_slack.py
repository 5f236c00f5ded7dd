"""Explanations of Slack's permission model, from the Slack emulator: a public channel (the
workspace's full members or the channel's), a private channel (its members), a file's copy, and
a member removed from a private channel."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from indexer.runner import RunType
from retrieval.access.explain import explain_access
from retrieval.access.models import AccessExplanation
from retrieval.identity import IdentityResolver
from tests.conftest import MakeStores
from tests.connectors.slack.workspace import EMBEDDER, ORG, SOURCE, Channels, Harness, seed
from tests.emulators.slack import SlackEmulator


@pytest.fixture
def backend_kind() -> str:
    return "embedded"


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackEmulator]:
    with SlackEmulator(seed=16) as emulator:
        yield emulator


@pytest.fixture
def harness(slack_server: SlackEmulator, make_stores: MakeStores) -> Iterator[Harness]:
    slack_server.reset()
    stores = make_stores(EMBEDDER.dimension)
    stores.index.ensure_schema()
    yield Harness(slack_server, stores)
    assert slack_server.take_violations() == []


def _doc(harness: Harness, channel_id: str, kind: str = "window") -> str:
    """The channel's earliest document of ``kind`` (the seeded message's window)."""
    prefix = f"{SOURCE}:{channel_id}/{kind}/"
    found = [
        fp.doc_id
        for fp in harness.stores.index.iter_fingerprints(SOURCE)
        if fp.doc_id.startswith(prefix)
    ]
    assert found, prefix
    return min(found)


def _explain(harness: Harness, email: str, doc_id: str) -> AccessExplanation:
    harness.stores.index.refresh()
    resolver = IdentityResolver(harness.stores.directory, ORG, cache_size=0)
    answer = explain_access(harness.stores, resolver, email, doc_id)
    assert answer.layers_status == "recorded"
    return answer


def _synced(harness: Harness) -> Channels:
    _, channels = seed(harness.slack)
    harness.sync()
    return channels


def test_a_public_channel_admits_full_members_and_its_guests_not_other_guests(
    harness: Harness,
) -> None:
    channels = _synced(harness)
    team = f"group:{SOURCE}:team:{harness.slack.state.team_id}"
    general = f"group:{SOURCE}:channel:{channels.general.id}"
    lunch = _doc(harness, channels.general.id)

    carol = _explain(harness, "carol@acme.com", lunch)
    assert carol.visible
    assert [layer.kind for layer in carol.layers] == ["public channel"]
    assert carol.layers[0].principals == sorted({team, general}) == carol.effective_acl
    assert carol.layers[0].origin == f"channel {channels.general.id}"
    assert "#general" in carol.layers[0].label and "guests excluded" in carol.layers[0].label
    assert team in carol.layers[0].matched
    # Carol holds the workspace group as a full member the groups run synced.
    held = next(h for h in carol.principals if h.principal == team)
    assert [step.group for step in held.path] == [team]

    gina = _explain(harness, "gina@acme.com", lunch)  # a guest, not in #general
    assert not gina.visible and [layer.admits for layer in gina.layers] == [False]
    assert "layer 1" in gina.summary and "admitted nobody of theirs" in gina.summary
    assert harness.found("gina@acme.com", "pizza") == set()

    freeze = _doc(harness, channels.eng.id)  # she is in #eng: the channel's own group admits her
    gina_eng = _explain(harness, "gina@acme.com", freeze)
    assert gina_eng.visible
    assert gina_eng.layers[0].matched == [f"group:{SOURCE}:channel:{channels.eng.id}"]


def test_a_private_channel_admits_its_members_only_and_a_file_copy_says_so(
    harness: Harness,
) -> None:
    people, channels = seed(harness.slack)
    harness.slack.share_file(
        channels.secret.id, people.carol, "terms.md", b"bluebird term sheet", time.time() - 60
    )
    harness.sync()
    secret = f"group:{SOURCE}:channel:{channels.secret.id}"
    bluebird = _doc(harness, channels.secret.id)

    alice = _explain(harness, "alice@acme.com", bluebird)
    assert alice.visible
    assert [layer.kind for layer in alice.layers] == ["private channel"]
    assert alice.layers[0].principals == [secret] == alice.effective_acl
    assert alice.layers[0].matched == [secret]

    bob = _explain(harness, "bob@acme.com", bluebird)  # a full member, not in #secret
    assert not bob.visible and [layer.admits for layer in bob.layers] == [False]
    assert "#secret: private channel" in bob.summary

    terms = _doc(harness, channels.secret.id, "file")
    file_layer = _explain(harness, "carol@acme.com", terms).layers
    assert [layer.kind for layer in file_layer] == ["private channel"]
    assert file_layer[0].label.startswith("file ") and "#secret" in file_layer[0].label
    assert file_layer[0].principals == [secret]
    assert not _explain(harness, "bob@acme.com", terms).visible


def test_a_member_removed_from_a_private_channel_is_stopped_by_its_layer(
    harness: Harness,
) -> None:
    channels = _synced(harness)
    bluebird = _doc(harness, channels.secret.id)
    assert _explain(harness, "carol@acme.com", bluebird).visible
    members = harness.slack.state.channels[channels.secret.id].members
    carol = next(u.id for u in harness.slack.state.users.values() if u.email == "carol@acme.com")
    members.remove(carol)

    for run_type in (RunType.groups, RunType.permissions):
        record = harness.run(run_type)
        assert record.status == "succeeded", record.message

    answer = _explain(harness, "carol@acme.com", bluebird)
    assert not answer.visible and answer.verdict == "not_visible"
    assert [layer.admits for layer in answer.layers] == [False]
    assert answer.matched_acl == []
    assert "admitted nobody of theirs" in answer.summary
    assert harness.found("carol@acme.com", "bluebird") == set()
    assert _explain(harness, "alice@acme.com", bluebird).visible
