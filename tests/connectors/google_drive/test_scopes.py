"""A Drive source as units of work: each shared drive and each My Drive is its own scope run
(its lease, checkpoint and page token), as scale-out workers run them, and a scope run neither
asks about nor writes another scope's files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from indexer.runner import RunType
from indexer.state_store import RunRecord
from tests.connectors.google_drive.workspace import (
    ADMIN,
    ALICE,
    BOB,
    BOTH_BACKENDS,
    CAROL,
    DAVE,
    Workspace,
    runner,
)
from tests.emulators.base import ApiRequest, ApiResponse


@dataclass(frozen=True)
class Asked:
    route: str
    caller: str
    drive_id: str | None
    file_id: str | None


def record_requests(ws: Workspace) -> list[Asked]:
    """Every Drive request from now on: its route, who asked, which drive and which file."""
    asked: list[Asked] = []
    drive = ws.drive

    def recording(route: str, handler: Callable[[ApiRequest], ApiResponse]) -> Callable[..., Any]:
        def handle(request: ApiRequest) -> ApiResponse:
            caller = request.headers.get("authorization", "").removeprefix("Bearer emu:")
            parts = request.path.split("/")
            file_id = parts[parts.index("files") + 1] if "files" in parts[:-1] else None
            asked.append(Asked(route, caller, request.query.get("driveId"), file_id))
            return handler(request)

        return handle

    for route, handler in list(drive.handlers.items()):
        drive.handlers[route] = recording(route, handler)
    return asked


def scoped_run(ws: Workspace, scope: str, run_type: RunType) -> RunRecord:
    record = runner(ws.connector().for_scope(scope), ws.stores, scope=scope).run(run_type)
    assert not ws.drive.take_violations(), "Drive traffic broke the discovery document"
    assert record.status == "succeeded", (scope, record.message)
    return record


def every_scope(ws: Workspace, run_type: RunType) -> None:
    for scope in ws.connector().work_scopes():
        scoped_run(ws, scope, run_type)


def two_drives(ws: Workspace) -> tuple[str, str]:
    eng = ws.drive.add_drive("Engineering", {ALICE: "organizer"})
    finance = ws.drive.add_drive("Finance", {CAROL: "organizer"})
    return eng, finance


def test_work_scopes_are_the_drives_then_the_users_from_one_listing(workspace: Workspace) -> None:
    ws = workspace
    eng, finance = two_drives(ws)
    ws.drive.add_file("Roadmap", "zebra roadmap", drive=eng)
    ws.drive.add_file("Notes", "zebra notes", owner=BOB)
    asked = record_requests(ws)
    connector = ws.connector()

    scopes = connector.work_scopes()

    users = sorted((ADMIN, ALICE, BOB, CAROL, DAVE))
    assert scopes == sorted([f"drive/{eng}", f"drive/{finance}"]) + [f"user/{u}" for u in users]
    assert [a.route for a in asked] == ["drive.drives.list"]  # no per-file work
    assert len(ws.directory.calls_of("directory.users.list")) == 1
    every_scope(ws, RunType.full)
    ws.stores.index.refresh()
    held = {fp.external_id for fp in ws.stores.index.iter_fingerprints("gdrive")}
    assert {connector.scope_of(i) for i in held} == {f"drive/{eng}", f"user/{BOB}"}
    assert ws.found("zebra", ALICE) == {"Roadmap"}
    assert ws.found("zebra", BOB) == {"Notes"}


@BOTH_BACKENDS
def test_a_scoped_permissions_run_leaves_other_drives_files_visible_and_unchanged(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    eng, finance = two_drives(ws)
    dave_eng = drive.grant(type="user", email=DAVE)
    dave_finance = drive.grant(type="user", email=DAVE)
    drive.add_file("Roadmap", "zebra roadmap", drive=eng, grants=[dave_eng])
    ledger = drive.add_file("Ledger", "zebra ledger", drive=finance, grants=[dave_finance])
    every_scope(ws, RunType.full)
    assert ws.found("zebra", DAVE) == {"Roadmap", "Ledger"}
    before = {fp.doc_id: fp for fp in ws.stores.index.iter_fingerprints("gdrive")}

    # Dave loses both grants; only Engineering's permissions run happens.
    roadmap = next(i for i, item in drive.state.items.items() if item.name == "Roadmap")
    drive.unshare(roadmap, dave_eng.id)
    drive.unshare(ledger, dave_finance.id)
    asked = record_requests(ws)
    scoped_run(ws, f"drive/{eng}", RunType.permissions)

    assert ws.found("zebra", DAVE) == {"Ledger"}
    assert ws.found("zebra", CAROL) == {"Ledger"}
    after = {fp.doc_id: fp for fp in ws.stores.index.iter_fingerprints("gdrive")}
    assert {d for d in after if after[d].acl_fingerprint != before[d].acl_fingerprint} == {
        f"gdrive:drive/{eng}/{roadmap}"
    }
    assert {d: after[d] for d in after if eng not in d} == {
        d: before[d] for d in before if eng not in d
    }
    assert all(a.drive_id in (None, eng) for a in asked)
    assert ledger not in {a.file_id for a in asked}

    scoped_run(ws, f"drive/{finance}", RunType.permissions)
    assert ws.found("zebra", DAVE) == set()


def test_a_scoped_incremental_follows_its_own_feed_and_asks_only_about_its_drive(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    eng, finance = two_drives(ws)
    memo = drive.add_file("Memo", "zebra memo", drive=eng)
    ledger = drive.add_file("Ledger", "zebra ledger", drive=finance)
    drive.add_file("Diary", "zebra diary", owner=BOB)
    every_scope(ws, RunType.incremental)
    drive.edit(memo, "zebra memo with the quokka clause")
    drive.edit(ledger, "zebra ledger with the quokka column")
    asked = record_requests(ws)

    scoped_run(ws, f"drive/{eng}", RunType.incremental)

    assert ws.found("quokka", ALICE) == {"Memo"}
    assert ws.found("quokka", CAROL) == set()  # Finance's change waits for Finance's run
    per_file = [a for a in asked if a.route != "drive.drives.list"]
    assert {a.route for a in per_file} >= {"drive.changes.list", "drive.permissions.list"}
    assert all(a.caller == ADMIN for a in asked)  # no user's My Drive was read
    assert {a.drive_id for a in per_file if a.drive_id} == {eng}
    assert {a.file_id for a in per_file if a.file_id} == {memo}
    changes = [a for a in asked if a.route == "drive.changes.list"]
    assert changes and all(a.drive_id == eng for a in changes)

    scoped_run(ws, f"drive/{finance}", RunType.incremental)
    assert ws.found("quokka", CAROL) == {"Ledger"}
    # Each scope's checkpoint holds its own page token only.
    for scope in (f"drive/{eng}", f"drive/{finance}"):
        connector = ws.connector().for_scope(scope)
        events = list(connector.changes(None))
        tokens = [e.checkpoint.value["tokens"] for e in events if hasattr(e, "checkpoint")]
        assert tokens and all(set(t) <= {scope} for t in tokens)


def test_each_owners_scope_run_carries_a_folder_share_to_the_files_it_owns_below_it(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    shared = drive.add_folder("Team", owner=ALICE, grants=[drive.grant(type="user", email=BOB)])
    drive.add_file("Bob's part", "zebra bobs part", parent=shared, owner=BOB)
    drive.add_file("Alice's part", "zebra alices part", parent=shared)
    every_scope(ws, RunType.incremental)
    assert ws.found("zebra", CAROL) == set()

    carol = drive.grant(type="user", email=CAROL)
    drive.share(shared, carol)
    record = scoped_run(ws, f"user/{ALICE}", RunType.incremental)
    # Alice's run writes Alice's file only; Bob's file is for Bob's scope run.
    assert ws.found("zebra", CAROL) == {"Alice's part"}
    assert record.notes.get("left_to_other_scopes") == 1
    scoped_run(ws, f"user/{BOB}", RunType.incremental)
    assert ws.found("zebra", CAROL) == {"Alice's part", "Bob's part"}

    drive.unshare(shared, carol.id)
    every_scope(ws, RunType.incremental)
    assert ws.found("zebra", CAROL) == set()
    assert ws.found("zebra", BOB) == {"Alice's part", "Bob's part"}


def test_the_runs_of_a_deleted_drive_hide_then_delete_its_files_and_only_them(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    eng, finance = two_drives(ws)
    drive.add_file("Memo", "zebra memo", drive=eng)
    drive.add_file("Ledger", "zebra ledger", drive=finance)
    every_scope(ws, RunType.incremental)
    assert ws.found("zebra", CAROL) == {"Ledger"}

    drive.remove_drive(finance)
    assert f"drive/{finance}" not in ws.connector().work_scopes()
    # The scheduler still plans the gone scope for the runs that decide what stays.
    scoped_run(ws, f"drive/{finance}", RunType.permissions)
    assert ws.found("zebra", CAROL) == set()  # hidden at once
    scoped_run(ws, f"drive/{finance}", RunType.full)

    ws.stores.index.refresh()
    held = {fp.external_id for fp in ws.stores.index.iter_fingerprints("gdrive")}
    assert {i.rsplit("/", 1)[0] for i in held} == {f"drive/{eng}"}
    assert ws.found("zebra", ALICE) == {"Memo"}
    with pytest.raises(ValueError):
        ws.connector().for_scope("space/ENG")
