"""The explainer's layers for Drive: one per grant, named as Drive gives it, and together
exactly the ACL the connector computes (never wider, never narrower), on every document and
every ACL event, failures included."""

from __future__ import annotations

from connectors.documents import Acl, AclLayer
from connectors.events import DocumentUpserted, PermissionsChanged
from connectors.google_drive import GoogleDriveConnector
from tests.connectors.google_drive.workspace import ALICE, BOB, CAROL, DAVE, Workspace

Sent = dict[str, tuple[Acl, tuple[AclLayer, ...]]]


def sent_by(connector: GoogleDriveConnector) -> Sent:
    """Each document's ACL and layers as ``changes`` sends them; ``permissions`` agrees."""
    sent: Sent = {}
    for event in connector.changes(None):
        if isinstance(event, DocumentUpserted):
            sent[event.document.external_id] = (event.document.acl, event.document.acl_layers)
        elif isinstance(event, PermissionsChanged):
            sent[event.external_id] = (event.acl, event.acl_layers)
    for event in connector.permissions(None):
        if isinstance(event, PermissionsChanged):
            assert sent[event.external_id] == (event.acl, event.acl_layers)
    return sent


def test_every_acl_the_connector_sends_comes_with_layers_that_name_exactly_it(
    workspace: Workspace,
) -> None:
    drive = workspace.drive
    eng = drive.add_drive("Engineering", {ALICE: "organizer", BOB: "reader"})
    private = drive.add_folder("Private", drive=eng)
    drive.limit_access(private)
    drive.add_file("Locked", "zebra locked", parent=private)
    sealed = drive.add_file(
        "Sealed", "zebra sealed", drive=eng, grants=[drive.grant(type="user", email=DAVE)]
    )
    drive.limit_access(sealed)
    drive.add_file(
        "Mixed",
        "zebra mixed",
        owner=CAROL,
        grants=[
            drive.grant(type="user", email=DAVE, expires="2020-01-01T00:00:00.000Z"),
            drive.grant(type="domain", domain="acme.com", discoverable=False),
            drive.grant(type="anyone"),
            drive.grant(type="group", email="eng@acme.com", role="writer"),
        ],
    )
    hidden = drive.add_file("Hidden", "zebra hidden", drive=eng)
    drive.state.items[hidden].permissions_hidden = True
    outside = drive.add_drive("Outside", {CAROL: "organizer"})
    target = drive.add_file("Target", "zebra target", drive=outside)
    drive.add_shortcut("Link", target, owner=CAROL)

    sent = sent_by(workspace.connector())
    # With shared drives left out, the shortcut stands for its target.
    sent |= sent_by(workspace.connector(include_shared_drives=False))

    for external_id, (acl, layers) in sent.items():
        assert layers, external_id
        assert frozenset().union(*(layer.principals for layer in layers)) == acl, external_id
    by_name = {i.rsplit("/", 1)[1]: sent[i] for i in sent}
    names = {item.name: i for i, item in drive.state.items.items()}

    locked_acl, locked = by_name[names["Locked"]]
    assert locked_acl == {f"user:{ALICE}"}  # below a limited folder: organizers only
    assert [layer.label for layer in locked] == [
        f"organizer: user {ALICE}, member of shared drive {eng}"
    ]
    sealed_acl, sealed_layers = by_name[sealed]
    assert sealed_acl == {f"user:{DAVE}"}
    assert [(layer.kind, bool(layer.principals)) for layer in sealed_layers] == [
        ("user grant", True),
        ("shared drive member", False),
    ]
    assert "limited access" in sealed_layers[1].label

    mixed_acl, mixed = by_name[names["Mixed"]]
    assert mixed_acl == {f"user:{CAROL}", "org:acme", "group:gdrive:eng@acme.com"}
    kinds = [layer.kind for layer in mixed]
    assert sorted(kinds) == sorted(
        ["user grant", "user grant", "domain grant", "anyone grant", "group grant"]
    )
    assert any("expired" in layer.label and not layer.principals for layer in mixed)
    assert any("link only" in layer.label and not layer.principals for layer in mixed)

    hidden_acl, hidden_layers = by_name[hidden]
    assert hidden_acl == frozenset()
    assert [layer.kind for layer in hidden_layers] == ["unreadable grants"]

    link_acl, link = by_name[names["Link"]]
    assert link_acl == {f"user:{CAROL}"}
    assert all(layer.origin and "target of shortcut" in layer.origin for layer in link)
    assert workspace.drive.take_violations() == []
