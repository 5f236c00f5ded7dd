"""Google Sheets are exported as XLSX so every sheet is searchable (CSV holds only the first)."""

from __future__ import annotations

from connectors.google_drive.content import XLSX, UnreadableContent, extract
from indexer.runner import RunType
from tests.connectors.google_drive.workspace import Workspace
from tests.emulators.google_drive import Item, workbook_of

CAROL, DAVE = "carol@acme.com", "dave@acme.com"


def test_every_sheet_of_a_google_sheet_is_searchable(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    drive.add_sheet(
        "Forecast",
        {"Q1": "zebra,revenue\n1,2\n", "Q2": "quokka,costs\n3,4\n"},
        owner=CAROL,
        grants=[drive.grant(type="user", email=DAVE)],
    )

    record = ws.run(RunType.full)

    assert record.status == "succeeded", record.message
    assert ws.found("revenue", DAVE) == {"Forecast"}
    assert ws.found("quokka", DAVE) == {"Forecast"}  # the second sheet


def test_a_workbook_unpacking_past_the_text_limit_is_refused() -> None:
    item = Item("s", "Big", XLSX, [], None, CAROL, sheets={"A": "x" * 50 + "\n", "B": "y,z\n"})
    data = workbook_of(item)

    assert "y,z" in extract(XLSX, data, max_workbook_chars=1000)
    try:
        extract(XLSX, data, max_workbook_chars=40)
        raise AssertionError("a workbook over the text limit was read")
    except UnreadableContent as exc:
        assert "over 40 characters" in str(exc)
