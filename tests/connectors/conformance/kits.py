"""What each connector brings to the conformance suite: a seeded source it can change at will.

A kit builds a connector over a small source, changes that source the way its users would
(edits, new and deleted documents, ACL changes), and says what the source now holds. The suite
(``test_conformance.py``) runs the same checks against every kit. A new connector adds a
module ``kit_<source>.py`` beside this one that defines ``KIT_NAME`` and ``make_kit(tmp_path)``,
a generator yielding the kit (so a kit on an emulator can start it and stop it afterwards);
``discovered_kits()`` finds it, so no shared file changes.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from connectors.contract import Connector
from connectors.folder import FolderConnector
from connectors.org import OrgPolicy
from tests.connectors.scripted import Doc, ScriptedConnector

ORG = OrgPolicy(tenant="acme", domains=frozenset({"acme.com"}))
USERS = ("alice@acme.com", "bob@acme.com", "carol@acme.com")


def now() -> datetime:
    return datetime.now(UTC)


class Kit(Protocol):
    name: str

    def connector(self) -> Connector: ...

    def change(self, rng: random.Random) -> None:
        """Change the source as a user would: a few edits, creations, deletions, ACL changes."""


MakeKit = Callable[[Path], Iterator["Kit"]]


def discovered_kits() -> dict[str, MakeKit]:
    """The folder and scripted kits, then every ``kit_*`` module of this package, by name."""
    kits: dict[str, MakeKit] = {"folder": _folder_kit, "scripted": _scripted_kit}
    package = importlib.import_module(__package__ or "tests.connectors.conformance")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("kit_"):
            loaded = importlib.import_module(f"{package.__name__}.{module.name}")
            kits[loaded.KIT_NAME] = loaded.make_kit
    return kits


def _folder_kit(tmp_path: Path) -> Iterator[Kit]:
    yield FolderKit(tmp_path / "tree")


def _scripted_kit(tmp_path: Path) -> Iterator[Kit]:
    yield ScriptedKit()


class FolderKit:
    name = "folder"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tick = 1_700_000_000
        self._serial = 0
        self._write(".permindex-acl.yaml", "allow: [org]\n")
        self._write(".permindex-groups.yaml", "groups:\n  eng: [alice@acme.com, bob@acme.com]\n")
        self._write("eng/.permindex-acl.yaml", "allow: [group:eng]\n")
        for _ in range(12):
            self._create(random.Random(self._serial))

    def connector(self) -> Connector:
        return FolderConnector(
            source_id="docs", root=self.root, org=ORG, clock=now, checkpoint_every=3
        )

    def change(self, rng: random.Random) -> None:
        for _ in range(rng.randint(2, 5)):
            files = sorted(p for p in self.root.rglob("*.md"))
            action = rng.choice(("create", "edit", "delete", "acl"))
            if action == "create" or not files:
                self._create(rng)
            elif action == "edit":
                path = rng.choice(files)
                self._write(
                    str(path.relative_to(self.root)), f"# Edited\n\nzebrafish {rng.random()}\n"
                )
            elif action == "delete":
                rng.choice(files).unlink()
            else:
                allow = ", ".join(rng.sample(USERS, rng.randint(1, 3)))
                self._write("hr/.permindex-acl.yaml", f"allow: [{allow}]\n")

    def _create(self, rng: random.Random) -> None:
        self._serial += 1
        folder = rng.choice(("", "eng", "hr"))
        name = f"{folder}/page-{self._serial}.md".lstrip("/")
        self._write(name, f"# Page {self._serial}\n\nzebrafish notes {rng.random()}\n")
        if not (self.root / "hr/.permindex-acl.yaml").exists():
            self._write("hr/.permindex-acl.yaml", "allow: [carol@acme.com]\n")

    def _write(self, relpath: str, text: str) -> None:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self._tick += 10  # distinct mtimes within one clock tick
        os.utime(path, (self._tick, self._tick))


class ScriptedKit:
    name = "scripted"

    def __init__(self) -> None:
        rng = random.Random(7)
        self.docs = {
            f"{scope}/{n}": Doc(scope=scope, body=f"zebrafish {scope} {n}", acl=self._acl(rng))
            for scope in ("eng", "hr", "ops")
            for n in range(5)
        }
        self._serial = 0

    def connector(self) -> Connector:
        return ScriptedConnector(source_id="wiki", docs=self.docs, scopes=["eng", "hr", "ops"])

    def change(self, rng: random.Random) -> None:
        for _ in range(rng.randint(2, 5)):
            ids = sorted(self.docs)
            action = rng.choice(("create", "edit", "delete", "acl"))
            if action == "create" or not ids:
                self._serial += 1
                scope = rng.choice(("eng", "hr", "ops"))
                self.docs[f"{scope}/new-{self._serial}"] = Doc(
                    scope=scope, body=f"zebrafish new {self._serial}", acl=self._acl(rng)
                )
            elif action == "edit":
                doc = self.docs[rng.choice(ids)]
                doc.body, doc.version = f"zebrafish edited {rng.random()}", str(rng.random())
            elif action == "delete":
                del self.docs[rng.choice(ids)]
            else:
                self.docs[rng.choice(ids)].acl = self._acl(rng)

    @staticmethod
    def _acl(rng: random.Random) -> frozenset[str]:
        return frozenset(f"user:{u}" for u in rng.sample(USERS, rng.randint(1, 2)))
