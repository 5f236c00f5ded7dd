"""The layers Slack records for the access explainer are its ACL, never more: after a sync, a
channel made private, a channel the bot left, every document's recorded layer holds exactly the
principals of the ACL the index holds."""

from __future__ import annotations

import time

from indexer.provenance import provenance_store_for
from indexer.runner import RunType
from tests.connectors.slack.workspace import SOURCE, Harness, seed


def _layers_by_doc(harness: Harness) -> dict[str, tuple[str, frozenset[str]]]:
    """doc id -> (layer kind, layer principals), checking each record matches the index's ACL."""
    store = provenance_store_for(harness.stores.index)
    assert store is not None
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for fingerprint in harness.stores.index.iter_fingerprints(SOURCE):
        held = store.indexed_acl(fingerprint.doc_id)
        recorded = store.get(fingerprint.doc_id)
        assert held is not None and recorded is not None, fingerprint.doc_id
        assert recorded.acl_fingerprint == held.acl_fingerprint, fingerprint.doc_id
        [layer] = recorded.layers
        assert layer.principals == held.acl, fingerprint.doc_id
        found[fingerprint.doc_id] = (layer.kind, layer.principals)
    return found


def test_every_documents_layer_is_its_acl_through_changes(harness: Harness) -> None:
    people, channels = seed(harness.slack)
    harness.slack.share_file(
        channels.eng.id, people.alice, "plan.md", b"rollout plan", time.time() - 120
    )
    harness.sync()
    kinds = {
        doc.split(":", 1)[1].split("/")[0]: kind
        for doc, (kind, _) in _layers_by_doc(harness).items()
    }
    assert kinds == {
        channels.general.id: "public channel",
        channels.eng.id: "public channel",
        channels.secret.id: "private channel",
        channels.connect.id: "Slack Connect channel",
    }

    harness.slack.state.channels[channels.eng.id].is_private = True
    assert harness.run(RunType.incremental).status == "succeeded"
    after = _layers_by_doc(harness)
    eng = {d: v for d, v in after.items() if d.startswith(f"{SOURCE}:{channels.eng.id}/")}
    assert len(eng) >= 2  # the window and the file's copy
    assert {kind for kind, _ in eng.values()} == {"private channel"}

    # The bot leaves #secret: until an incremental deletes it, nobody, and the layer says why.
    members = harness.slack.state.channels[channels.secret.id].members
    members.remove(harness.slack.state.bot_user_id)
    assert harness.run(RunType.permissions).status == "succeeded"
    secret = {
        d: v
        for d, v in _layers_by_doc(harness).items()
        if d.startswith(f"{SOURCE}:{channels.secret.id}/")
    }
    assert secret and set(secret.values()) == {("channel not listed", frozenset())}
    assert harness.found("alice@acme.com", "bluebird") == set()
