"""The Google Drive connector over the real client and emulators, checked as users see search.

Every step after the first run is an incremental run: the Changes API must carry edits, moves,
trash, restores, deletions and sharing changes to search without a full run.
"""

from __future__ import annotations

from indexer.runner import RunType
from tests.connectors.google_drive.workspace import BOTH_BACKENDS, Workspace
from tests.emulators.base import RateLimited, ServerError

ALICE, BOB, CAROL, DAVE = "alice@acme.com", "bob@acme.com", "carol@acme.com", "dave@acme.com"
OUTSIDER = "eve@example.org"


def incremental(ws: Workspace) -> None:
    record = ws.run(RunType.incremental)
    assert record.status == "succeeded", record.message


def test_full_sync_gives_each_user_what_drive_grants_them(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    eng = drive.add_drive("Engineering", {ALICE: "organizer", BOB: "reader"})
    specs = drive.add_folder("Specs", drive=eng)
    drive.add_file("Roadmap", "zebra roadmap for the platform", parent=specs)
    drive.add_file(
        "Budget",
        "zebra budget,2027\nheadcount,12\n",
        owner=CAROL,
        mime="application/vnd.google-apps.spreadsheet",
        grants=[drive.grant(type="user", email=DAVE)],
    )
    drive.add_file("Holiday photo", b"\x89PNG...", owner=CAROL, mime="image/png")

    record = ws.run(RunType.full)

    assert record.status == "succeeded", record.message
    assert ws.found("zebra", ALICE) == {"Roadmap"}
    assert ws.found("zebra", BOB) == {"Roadmap"}
    assert ws.found("zebra", CAROL) == {"Budget"}
    assert ws.found("headcount", DAVE) == {"Budget"}  # a Sheet, exported as CSV
    assert ws.found("zebra", OUTSIDER) == set()


def test_edits_moves_trash_restore_and_deletion_reach_search_incrementally(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    eng = drive.add_drive("Engineering", {ALICE: "organizer"})
    finance = drive.add_drive("Finance", {CAROL: "organizer"})
    memo = drive.add_file("Memo", "zebra memo draft", drive=eng)
    doomed = drive.add_file("Doomed", "zebra doomed notes", drive=eng)
    assert ws.run(RunType.full).status == "succeeded"

    drive.edit(memo, "zebra memo final, with the quokka clause")
    incremental(ws)
    assert ws.found("quokka", ALICE) == {"Memo"}

    drive.move(memo, drive=finance)
    incremental(ws)
    assert ws.found("quokka", ALICE) == set()
    assert ws.found("quokka", CAROL) == {"Memo"}

    drive.trash(doomed)
    incremental(ws)
    assert ws.found("doomed", ALICE) == set()

    drive.trash(doomed, trashed=False)  # restored: no new modifiedTime, still a change
    incremental(ws)
    assert ws.found("doomed", ALICE) == {"Doomed"}

    drive.delete(doomed)
    incremental(ws)
    assert ws.found("doomed", ALICE) == set()
    assert ws.run(RunType.full).status == "succeeded"
    assert ws.found("zebra", CAROL) == {"Memo"}


def test_a_sharing_change_on_a_file_hides_and_reveals_it_on_the_next_incremental(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    plan = drive.add_file("Plan", "zebra reorganisation plan", owner=BOB)
    assert ws.run(RunType.full).status == "succeeded"
    assert ws.found("reorganisation", DAVE) == set()

    grant = drive.grant(type="user", email=DAVE)
    drive.share(plan, grant)
    incremental(ws)
    assert ws.found("reorganisation", DAVE) == {"Plan"}

    drive.unshare(plan, grant.id)
    incremental(ws)
    assert ws.found("reorganisation", DAVE) == set()
    assert ws.found("reorganisation", BOB) == {"Plan"}


@BOTH_BACKENDS
def test_a_sharing_change_on_a_parent_folder_reaches_its_files_on_the_next_incremental(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    outer = drive.add_folder("Team", owner=BOB)
    inner = drive.add_folder("Reviews", parent=outer)
    drive.add_file("Review", "zebra performance review", parent=inner)
    assert ws.run(RunType.full).status == "succeeded"

    grant = drive.grant(type="user", email=DAVE)
    drive.share(outer, grant)  # Drive records a change of the folder only
    incremental(ws)
    assert ws.found("performance", DAVE) == {"Review"}

    drive.unshare(outer, grant.id)
    incremental(ws)
    assert ws.found("performance", DAVE) == set()
    assert ws.found("performance", BOB) == {"Review"}


def test_a_limited_access_folder_cuts_what_its_files_inherit(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    eng = drive.add_drive("Engineering", {ALICE: "organizer", BOB: "reader"})
    private = drive.add_folder("Private", drive=eng)
    drive.add_file("Salaries", "zebra salaries", parent=private)
    assert ws.run(RunType.full).status == "succeeded"
    assert ws.found("salaries", BOB) == {"Salaries"}

    drive.limit_access(private)
    incremental(ws)
    assert ws.found("salaries", BOB) == set()
    assert ws.found("salaries", ALICE) == {"Salaries"}  # organizers keep access


@BOTH_BACKENDS
def test_link_only_shares_admit_only_named_grantees(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    drive.add_file(
        "Link only",
        "zebra link only offsite agenda",
        owner=BOB,
        grants=[
            drive.grant(type="anyone", discoverable=False),
            drive.grant(type="domain", domain="acme.com", discoverable=False),
            drive.grant(type="user", email=CAROL),
        ],
    )
    drive.add_file(
        "Discoverable",
        "zebra discoverable handbook",
        owner=BOB,
        grants=[drive.grant(type="domain", domain="acme.com", discoverable=True)],
    )
    drive.add_file(
        "Public",
        "zebra public price list",
        owner=BOB,
        grants=[drive.grant(type="anyone", discoverable=True)],
    )
    assert ws.run(RunType.full).status == "succeeded"
    assert ws.run(RunType.groups).status == "succeeded"

    assert ws.found("zebra", BOB) == {"Link only", "Discoverable", "Public"}
    assert ws.found("zebra", CAROL) == {"Link only", "Discoverable", "Public"}
    assert ws.found("zebra", DAVE) == {"Discoverable", "Public"}
    # Anyone-discoverable is the organisation at most, never the public.
    assert ws.found("zebra", OUTSIDER) == set()


@BOTH_BACKENDS
def test_a_nested_group_grant_works_and_a_removed_member_loses_access_after_a_groups_run(
    workspace: Workspace,
) -> None:
    ws, drive, directory = workspace, workspace.drive, workspace.directory
    directory.add_group("eng@acme.com", ALICE, "group:platform@acme.com")
    directory.add_group("platform@acme.com", DAVE)
    directory.add_group("everyone@acme.com", "customer")
    eng = drive.add_drive("Engineering", {"group:eng@acme.com": "reader"})
    drive.add_file("Design", "zebra design review", drive=eng)
    drive.add_file(
        "Townhall",
        "zebra townhall notes",
        owner=BOB,
        grants=[drive.grant(type="group", email="everyone@acme.com")],
    )
    assert ws.run(RunType.full).status == "succeeded"
    assert ws.run(RunType.groups).status == "succeeded"
    assert ws.found("design", DAVE) == {"Design"}
    assert ws.found("townhall", CAROL) == {"Townhall"}  # CUSTOMER: the whole tenant
    assert ws.found("zebra", OUTSIDER) == set()

    directory.remove_member("platform@acme.com", DAVE)
    assert ws.run(RunType.groups).status == "succeeded"
    assert ws.found("design", DAVE) == set()
    assert ws.found("design", ALICE) == {"Design"}


def test_a_storm_of_403_and_429_quota_refusals_completes(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    eng = drive.add_drive("Engineering", {ALICE: "organizer"})
    for n in range(5):
        drive.add_file(f"Note {n}", f"zebra note {n}", drive=eng)
    for route in ("drive.files.list", "drive.permissions.list", "drive.files.get"):
        drive.inject(route, ServerError(status=403, times=3))
        drive.inject(route, RateLimited(times=3, after=2))
    ws.directory.inject("directory.users.list", RateLimited(times=2))

    record = ws.run(RunType.full)

    assert record.status == "succeeded", record.message
    assert ws.found("zebra", ALICE) == {f"Note {n}" for n in range(5)}
    refused = [c for c in drive.calls if c.status in (403, 429)]
    assert len(refused) >= 12


def test_a_listing_that_fails_deletes_nothing(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    eng = drive.add_drive("Engineering", {ALICE: "organizer"})
    drive.add_file("Kept", "zebra kept", drive=eng)
    drive.add_file("Also kept", "zebra also kept", owner=BOB)
    assert ws.run(RunType.full).status == "succeeded"

    drive.inject("drive.files.list", ServerError(status=503, times=None, after=1))
    record = ws.run(RunType.prune)

    assert record.status == "failed"
    assert ws.found("zebra", ALICE) == {"Kept"}
    assert ws.found("zebra", BOB) == {"Also kept"}


def test_a_refused_page_token_falls_back_to_listing_the_scope(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    eng = drive.add_drive("Engineering", {ALICE: "organizer"})
    old = drive.add_file("Old", "zebra old", drive=eng)
    assert ws.run(RunType.full).status == "succeeded"
    drive.delete(old)
    drive.add_file("New", "zebra new", drive=eng)
    drive.expire_page_tokens()

    incremental(ws)

    assert ws.found("zebra", ALICE) == {"New"}


def test_a_deleted_shared_drive_takes_its_documents_with_it(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    eng = drive.add_drive("Engineering", {ALICE: "organizer"})
    drive.add_file("Gone", "zebra gone", drive=eng)
    drive.add_file("Mine", "zebra mine", owner=ALICE)
    assert ws.run(RunType.full).status == "succeeded"

    drive.remove_drive(eng)  # no change in any feed: found by diffing drives.list
    incremental(ws)

    assert ws.found("zebra", ALICE) == {"Mine"}


def test_removed_on_a_users_feed_is_checked_before_deleting(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    # Owned outside the organisation: indexed under the user it is shared with.
    grant = drive.grant(type="user", email=CAROL)
    shared = drive.add_file("Partner brief", "zebra partner brief", owner=OUTSIDER, grants=[grant])
    assert ws.run(RunType.full).status == "succeeded"
    assert ws.found("partner", CAROL) == {"Partner brief"}

    drive.report_removed(shared, CAROL)  # Carol can still open it
    incremental(ws)
    assert ws.found("partner", CAROL) == {"Partner brief"}

    drive.unshare(shared, grant.id)
    incremental(ws)
    assert ws.found("partner", CAROL) == set()


def test_a_folder_share_reaches_files_other_users_put_in_it(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    folder = drive.add_folder("Shared work", owner=BOB)
    drive.add_file("Alice's draft", "zebra draft by alice", parent=folder, owner=ALICE)
    assert ws.run(RunType.full).status == "succeeded"
    assert ws.found("draft", DAVE) == set()

    grant = drive.grant(type="user", email=DAVE)
    drive.share(folder, grant)  # a change in Bob's feed only; the file is Alice's
    incremental(ws)
    assert ws.found("draft", DAVE) == {"Alice's draft"}
    assert ws.found("draft", BOB) == {"Alice's draft"}


def test_a_file_whose_permissions_cannot_be_read_is_recorded_and_visible_to_nobody(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    hidden = drive.add_file(
        "Partner plan",
        "zebra partner plan",
        owner=OUTSIDER,
        grants=[drive.grant(type="user", email=CAROL)],
    )
    drive.state.items[hidden].permissions_hidden = True
    drive.add_file("Ordinary", "zebra ordinary", owner=CAROL)

    record = ws.run(RunType.full)

    assert record.status == "succeeded", record.message
    assert [e.doc_id.rsplit("/", 1)[1] for e in record.errors] == [hidden]
    assert "insufficientFilePermissions" in record.errors[0].reason
    assert ws.found("zebra", CAROL) == {"Ordinary"}
