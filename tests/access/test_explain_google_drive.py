"""Explanations of Drive's permission model, from the connector's emulators: a file's grants as
Drive gives them (on the file, inherited from a folder, the shared drive's members), any one
of which admits, and the grant that no longer names someone after a permissions run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexer.backends import Stores
from indexer.provenance import provenance_store_for
from indexer.runner import RunType
from retrieval.access.explain import explain_access
from retrieval.access.models import AccessExplanation
from retrieval.identity import IdentityResolver
from tests.conftest import MakeStores
from tests.connectors.google_drive.workspace import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    EMBEDDER,
    ORG,
    SOURCE,
    Workspace,
    emulators,
)
from tests.emulators.google_directory import DirectoryEmulator
from tests.emulators.google_drive import DriveEmulator


@pytest.fixture
def backend_kind() -> str:
    return "embedded"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[DriveEmulator, DirectoryEmulator]]:
    with emulators() as running:
        yield running


@pytest.fixture
def ws(servers: tuple[DriveEmulator, DirectoryEmulator], make_stores: MakeStores) -> Workspace:
    drive, directory = servers
    drive.reset()
    directory.reset()
    stores = make_stores(EMBEDDER.dimension)
    stores.index.ensure_schema()
    return Workspace(drive, directory, stores)


def sync(ws: Workspace, *run_types: RunType) -> None:
    for run_type in run_types:
        record = ws.run(run_type)
        assert record.status == "succeeded", (run_type, record.message)
    ws.stores.index.refresh()


def doc_of(stores: Stores, title: str) -> str:
    store = provenance_store_for(stores.index)
    assert store is not None
    for fp in stores.index.iter_fingerprints(SOURCE):
        held = store.indexed_acl(fp.doc_id)
        if held is not None and held.title == title:
            return fp.doc_id
    raise AssertionError(f"no document titled {title!r}")


def explain(ws: Workspace, email: str, doc_id: str) -> AccessExplanation:
    resolver = IdentityResolver(ws.stores.directory, ORG, cache_size=0)
    found = explain_access(ws.stores, resolver, email, doc_id)
    assert found.layers_status == "recorded", found.notes
    # Drive's grants are alternatives: the layers together name exactly the effective ACL.
    named = {p for layer in found.layers for p in layer.principals}
    assert named == set(found.effective_acl)
    return found


def test_a_direct_grant_a_nested_group_and_the_domain_each_admit_as_drive_gave_them(
    ws: Workspace,
) -> None:
    drive, directory = ws.drive, ws.directory
    directory.add_group("platform@acme.com", DAVE)
    directory.add_group("eng@acme.com", "group:platform@acme.com")
    eng = drive.add_drive("Engineering", {ALICE: "organizer"})
    specs = drive.add_folder(
        "Specs", drive=eng, grants=[drive.grant(type="group", email="eng@acme.com")]
    )
    drive.add_file("Roadmap", "zebra roadmap", parent=specs)
    drive.add_file(
        "Handbook",
        "zebra handbook",
        owner=BOB,
        grants=[drive.grant(type="domain", domain="acme.com", role="commenter")],
    )
    sync(ws, RunType.groups, RunType.full)
    roadmap, handbook = doc_of(ws.stores, "Roadmap"), doc_of(ws.stores, "Handbook")

    alice = explain(ws, ALICE, roadmap)
    assert alice.visible
    member = next(layer for layer in alice.layers if layer.admits)
    assert member.kind == "shared drive member"
    assert member.label == f"organizer: user {ALICE}, member of shared drive {eng}"

    dave = explain(ws, DAVE, roadmap)
    assert dave.visible
    [through] = [layer for layer in dave.layers if layer.admits]
    assert through.kind == "group grant (inherited)"
    assert through.origin == f"folder {specs}"
    assert through.label == f"reader: group eng@acme.com, inherited from folder {specs}"
    held = next(h for h in dave.principals if h.principal == through.matched[0])
    assert [step.group for step in held.path] == [
        "group:gdrive:platform@acme.com",
        "group:gdrive:eng@acme.com",
    ]
    assert "platform@acme.com" in dave.summary and "eng@acme.com" in dave.summary

    carol = explain(ws, CAROL, handbook)
    assert carol.visible
    [domain] = [layer for layer in carol.layers if layer.admits]
    assert domain.kind == "domain grant"
    assert domain.label == "commenter: everyone at acme.com, on the file"
    assert domain.matched == ["group:gdrive:domain:acme.com"]
    assert not explain(ws, CAROL, roadmap).visible
    assert drive.take_violations() == [] and directory.take_violations() == []


def test_a_removed_grant_stops_its_user_after_the_permissions_run(ws: Workspace) -> None:
    drive = ws.drive
    bob = drive.grant(type="user", email=BOB)
    link = drive.grant(type="anyone", discoverable=False)
    salaries = drive.add_file("Salaries", "zebra salaries", owner=CAROL, grants=[bob, link])
    sync(ws, RunType.groups, RunType.full)
    doc_id = doc_of(ws.stores, "Salaries")
    before = explain(ws, BOB, doc_id)
    assert before.visible and [layer.kind for layer in before.layers if layer.admits] == [
        "user grant"
    ]

    drive.unshare(salaries, bob.id)
    sync(ws, RunType.permissions)

    after = explain(ws, BOB, doc_id)
    assert not after.visible and not any(layer.admits for layer in after.layers)
    assert after.effective_acl == [f"user:{CAROL}"]
    labels = [layer.label for layer in after.layers]
    assert f"owner: user {CAROL}, on the file" in labels
    # The link Bob may hold is no way in through search, and the explanation says so.
    assert any(label.startswith("reader: anyone, on the file; link only") for label in labels), (
        labels
    )
    assert not any(BOB in label for label in labels)
    # Grants are alternatives (any one admits): the answer names none as "the" stopping layer.
    assert all(layer.alternative for layer in after.layers)
    assert after.summary.startswith("not visible: none of its 2 alternative layers"), after.summary
    assert after.layers_recorded_at is not None and before.layers_recorded_at is not None
    assert after.layers_recorded_at > before.layers_recorded_at
