"""The Google Drive connector in the conformance suite: the real client against the emulators,
a shared drive and two My Drives, changed through Drive's own operations."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from connectors.contract import Connector
from tests.connectors.google_drive.workspace import ALICE, BOB, CAROL, connector, emulators
from tests.emulators.google_directory import DirectoryEmulator
from tests.emulators.google_drive import DriveEmulator

KIT_NAME = "google_drive"


def make_kit(tmp_path: Path) -> Iterator[GoogleDriveKit]:
    # Fewer users than the sync tests: every user is a scope, and the suite runs on both backends.
    with emulators(users=(ALICE, BOB, CAROL)) as (drive, directory):
        yield GoogleDriveKit(drive, directory)


class GoogleDriveKit:
    name = KIT_NAME

    def __init__(self, drive: DriveEmulator, directory: DirectoryEmulator) -> None:
        self.drive = drive
        self.directory = directory
        directory.add_group("eng@acme.com", ALICE, BOB)
        self.eng = drive.add_drive(
            "Engineering", {ALICE: "organizer", "group:eng@acme.com": "reader"}
        )
        self.folder = drive.add_folder("Specs", drive=self.eng)
        self._serial = 0
        rng = random.Random(11)
        for _ in range(6):
            self._create(rng)

    def connector(self) -> Connector:
        return connector(self.drive, self.directory)

    def change(self, rng: random.Random) -> None:
        for _ in range(rng.randint(2, 5)):
            files = sorted(
                i for i, item in self.drive.state.items.items() if item.mime == "text/plain"
            )
            action = rng.choice(("create", "edit", "delete", "trash", "acl", "folder_acl"))
            if action == "create" or not files:
                self._create(rng)
            elif action == "edit":
                self.drive.edit(rng.choice(files), f"zebrafish edited {rng.random()}")
            elif action == "delete":
                self.drive.delete(rng.choice(files))
            elif action == "trash":
                self.drive.trash(rng.choice(files))
            elif action == "acl":
                email = rng.choice((ALICE, BOB, CAROL))
                self.drive.share(rng.choice(files), self.drive.grant(type="user", email=email))
            else:
                self.drive.share(self.folder, self.drive.grant(type="user", email=CAROL))

    def _create(self, rng: random.Random) -> None:
        self._serial += 1
        text = f"zebrafish notes {self._serial} {rng.random()}"
        where = rng.choice(("drive", "folder", "bob", "carol"))
        name = f"page-{self._serial}"
        if where == "drive":
            self.drive.add_file(name, text, drive=self.eng)
        elif where == "folder":
            self.drive.add_file(name, text, parent=self.folder)
        else:
            owner = BOB if where == "bob" else CAROL
            grants = [self.drive.grant(type="user", email=rng.choice((ALICE, CAROL)))]
            self.drive.add_file(name, text, owner=owner, grants=grants)
