"""Shortcuts and resource keys, as users see search.

A shortcut whose target no listed scope indexes is indexed as its target, with the target's
grants; the shortcut's own grants never open the target's content.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from indexer.records import SearchFilters
from indexer.runner import RunType
from tests.connectors.google_drive.workspace import Workspace

ALICE, BOB, CAROL, DAVE = "alice@acme.com", "bob@acme.com", "carol@acme.com", "dave@acme.com"
OUTSIDER = "eve@example.org"
MY_DRIVES_ONLY = {"include_shared_drives": False}


def hits(ws: Workspace, query: str, email: str) -> list[str]:
    """Titles of every hit, duplicates kept."""
    ws.stores.index.refresh()
    principals = ws.resolver.resolve(email)
    return [
        h.title for h in ws.stores.index.keyword_search(query, principals, SearchFilters(), k=50)
    ]


def test_a_shortcut_to_a_file_outside_the_listed_scopes_is_found_by_the_targets_grantees_only(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    legal = drive.add_drive("Legal", {CAROL: "organizer", BOB: "reader"})
    contract = drive.add_file("Contract", "zebra contract terms", drive=legal)
    drive.require_resource_key(contract)  # sent as the shortcut's targetResourceKey
    # Bob's shortcut is shared with Dave: that opens the shortcut, not the contract.
    drive.add_shortcut(
        "Contract link", contract, owner=BOB, grants=[drive.grant(type="user", email=DAVE)]
    )

    record = ws.run(RunType.full, **MY_DRIVES_ONLY)

    assert record.status == "succeeded", record.message
    assert ws.found("contract", BOB) == {"Contract"}
    assert ws.found("contract", CAROL) == {"Contract"}
    assert ws.found("contract", DAVE) == set()
    assert ws.found("contract", ALICE) == set()

    # The target's own sharing change reaches search on the next incremental run.
    drive.share(contract, drive.grant(type="user", email=ALICE))
    assert ws.run(RunType.incremental, **MY_DRIVES_ONLY).status == "succeeded"
    assert ws.found("contract", ALICE) == {"Contract"}
    assert ws.found("contract", DAVE) == set()

    drive.delete(contract)
    record = ws.run(RunType.incremental, **MY_DRIVES_ONLY)
    assert record.status == "succeeded", record.message
    assert "gone or unreadable" in record.errors[0].reason
    assert all(ws.found("contract", who) == set() for who in (ALICE, BOB, CAROL, DAVE))


def test_a_shortcut_whose_target_turns_unreadable_is_visible_to_nobody(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    legal = drive.add_drive("Legal", {CAROL: "organizer", BOB: "reader"})
    memo = drive.add_file("Memo", "zebra settlement memo", drive=legal)
    drive.add_shortcut("Memo link", memo, owner=BOB)
    assert ws.run(RunType.full, **MY_DRIVES_ONLY).status == "succeeded"
    assert ws.found("settlement", CAROL) == {"Memo"}

    # Bob leaves the drive: his shortcut's target is no longer his to read.
    members = drive.state.drives[legal].members
    drive.state.drives[legal].members = [m for m in members if m.email != BOB]
    record = ws.run(RunType.incremental, **MY_DRIVES_ONLY)

    assert record.status == "succeeded", record.message
    assert [e.doc_id.rsplit("/", 1)[1] for e in record.errors] == [
        next(i for i, item in drive.state.items.items() if item.target == memo)
    ]
    assert all(ws.found("settlement", who) == set() for who in (ALICE, BOB, CAROL, DAVE))

    # Back in the drive: the failed shortcut is resolved again without a change of its own.
    drive.state.drives[legal].members = members
    assert ws.run(RunType.incremental, **MY_DRIVES_ONLY).status == "succeeded"
    assert ws.found("settlement", CAROL) == {"Memo"}
    assert ws.found("settlement", DAVE) == set()


def test_a_shortcut_to_an_indexed_file_creates_no_duplicate(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    eng = drive.add_drive("Engineering", {ALICE: "organizer", BOB: "reader"})
    design = drive.add_file("Design", "zebra design review", drive=eng)
    notes = drive.add_file(
        "Notes", "zebra carol notes", owner=CAROL, grants=[drive.grant(type="user", email=BOB)]
    )
    drive.add_shortcut("Design link", design, owner=BOB)
    drive.add_shortcut("Notes link", notes, owner=BOB)
    drive.add_shortcut("Design in drive", design, drive=eng)

    record = ws.run(RunType.full)

    assert record.status == "succeeded", record.message
    assert record.errors == []
    assert sorted(hits(ws, "zebra", BOB)) == ["Design", "Notes"]
    assert hits(ws, "zebra", ALICE) == ["Design"]


def test_a_file_needing_its_resource_key_is_fetched_with_it(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    brief = drive.add_file(
        "Partner brief",
        "zebra partner brief",
        owner=OUTSIDER,
        grants=[drive.grant(type="user", email=BOB)],
    )
    key = drive.require_resource_key(brief)

    url = f"{drive.url}/drive/v3/files/{brief}?alt=media"
    as_bob = {"Authorization": f"Bearer emu:{BOB}"}
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers=as_bob))
        raise AssertionError("the emulator served a keyed file without its key")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
    keyed = {**as_bob, "X-Goog-Drive-Resource-Keys": f"{brief}/{key}"}
    with urllib.request.urlopen(urllib.request.Request(url, headers=keyed)) as answer:
        assert answer.read() == b"zebra partner brief"
    drive.take_violations()

    record = ws.run(RunType.full)

    assert record.status == "succeeded", record.message
    assert record.errors == []
    assert ws.found("partner", BOB) == {"Partner brief"}
    assert ws.found("partner", DAVE) == set()
