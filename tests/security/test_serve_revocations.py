"""Issue 7, items 1-11: each leak the probe found on the sync side, reproduced as it was found —
sources edited, `permindex sync` run from the CLI, and the result read back from a real
`permindex serve` process over HTTP as the person who must (or must no longer) see it.

Item 6 (a write the index rejects) cannot be provoked through the CLI: it is
tests/indexer/test_revocation_paths.py::test_a_rejected_write_* on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.conftest import ALICE, BOB, CAROL, Deployment
from tests.security.serve import SOURCE, Workspace, serve

STRANGER = "stranger@gmail.com"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    workspace = Workspace(
        tmp_path_factory.mktemp("revocations"), extra_config=["org: {domains: [acme.com]}"]
    )
    workspace.write_config()
    workspace.write("welcome.md", "# Welcome\n\nNothing here yet.\n")
    workspace.sync()
    keys = {"search": workspace.create_key("assistant", "search")}
    with serve(workspace) as server:
        yield Deployment(workspace=workspace, server=server, keys=keys)


def found(deployment: Deployment, user: str, query: str) -> set[str]:
    with deployment.server.client(deployment.keys["search"]) as http:
        response = http.post(
            "/v1/search", json={"user": user, "query": query, "mode": "keyword", "top_k": 50}
        )
    assert response.status_code == 200, response.text
    return {r["doc_id"].split(":", 1)[1] for r in response.json()["results"]}


def sidecar(workspace: Workspace, folder: str, text: str) -> None:
    path = workspace.docs / folder / ".permindex-acl.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_1_a_revocation_after_a_permissions_run_is_applied(deployment: Deployment) -> None:
    ws = deployment.workspace
    sidecar(ws, "i1", f"allow: [{ALICE}]\ninherit: false\n")
    ws.write("i1/plan.md", "# Plan\n\nThe marmoset reorganisation plan.\n")
    ws.sync()
    sidecar(ws, "i1", f"allow: [{ALICE}, {BOB}]\ninherit: false\n")
    ws.cli("sync", SOURCE, "--permissions", "--quiet")
    assert found(deployment, BOB, "marmoset") == {"i1/plan.md"}
    sidecar(ws, "i1", f"allow: [{ALICE}]\ninherit: false\n")
    ws.sync()
    assert found(deployment, BOB, "marmoset") == set()


BLANKS = {
    "commented": "allow:\n  # - bob@acme.com\n",
    "tilde": "allow: ~\n",
    "empty": "allow: []\n",
}


@pytest.mark.parametrize("kind", sorted(BLANKS))
def test_2_a_blank_allow_means_nobody(deployment: Deployment, kind: str) -> None:
    ws = deployment.workspace
    folder, blank = f"i2-{kind}", BLANKS[kind]
    sidecar(ws, folder, f"allow: [{BOB}]\ninherit: false\n")
    sidecar(ws, f"{folder}/hr", blank)
    ws.write(f"{folder}/hr/pay.md", "# Pay\n\nThe okapi salary bands.\n")
    ws.sync()
    assert found(deployment, BOB, "okapi") == set()


def test_3_a_misnamed_sidecar_fails_its_folder_closed(deployment: Deployment) -> None:
    ws = deployment.workspace
    sidecar(ws, "i3", f"allow: [{BOB}]\ninherit: false\n")
    (ws.docs / "i3" / "hr").mkdir(parents=True)
    (ws.docs / "i3" / "hr" / ".permindex-acl.yml").write_text(f"allow: [{CAROL}]\n")
    ws.write("i3/hr/review.md", "# Review\n\nThe quokka performance review.\n")
    done = ws.cli("sync", SOURCE, "--quiet")
    assert found(deployment, BOB, "quokka") == set()
    assert ".permindex-acl.yml" in done.stderr  # the run names what to fix


def test_4_a_poisoned_document_does_not_freeze_deletions(deployment: Deployment) -> None:
    ws = deployment.workspace
    sidecar(ws, "i4", f"allow: [{BOB}]\ninherit: false\n")
    doomed = ws.write("i4/doomed.md", "# Doomed\n\nThe axolotl severance terms.\n")
    ws.sync()
    assert found(deployment, BOB, "axolotl") == {"i4/doomed.md"}
    ws.write("i4/poisoned.md", '---\ntitle: "bad \\ud800"\n---\n# Notes\n\naxolotl\n')
    doomed.unlink()
    ws.sync()  # exit 0: one bad document is recorded, the run goes on
    assert found(deployment, BOB, "axolotl") == set()


def test_5_a_link_never_carries_a_restricted_file_into_a_public_folder(
    deployment: Deployment,
) -> None:
    ws = deployment.workspace
    sidecar(ws, "i5-secret", f"allow: [{CAROL}]\ninherit: false\n")
    secret = ws.write("i5-secret/keys.md", "# Keys\n\nThe pangolin root password.\n")
    sidecar(ws, "i5-public", f"allow: [{BOB}]\ninherit: false\n")
    (ws.docs / "i5-public").mkdir(exist_ok=True)
    (ws.docs / "i5-public" / "keys.md").symlink_to(secret)
    ws.sync()
    assert found(deployment, BOB, "pangolin") == set()
    assert found(deployment, CAROL, "pangolin") == {"i5-secret/keys.md"}


def test_7_a_foreign_org_is_not_the_tenant(deployment: Deployment) -> None:
    ws = deployment.workspace
    sidecar(ws, "i7", "allow: [org:partnerco]\ninherit: false\n")
    sidecar(ws, "i7/deal", f"allow: [{BOB}]\n")
    ws.write("i7/deal/terms.md", "# Terms\n\nThe narwhal acquisition terms.\n")
    ws.sync()
    assert found(deployment, BOB, "narwhal") == set()


def test_8_an_address_outside_the_organisation_reads_nothing_org_wide(
    deployment: Deployment,
) -> None:
    ws = deployment.workspace
    sidecar(ws, "i8", "allow: [org]\ninherit: false\n")
    ws.write("i8/handbook.md", "# Handbook\n\nThe capybara travel policy.\n")
    ws.sync()
    assert found(deployment, BOB, "capybara") == {"i8/handbook.md"}
    assert found(deployment, STRANGER, "capybara") == set()


@pytest.mark.parametrize("user", ["\u212aim@acme.com", "kim@acme.com\u0085", "k\u200bim@acme.com"])
def test_9_a_look_alike_address_is_refused(deployment: Deployment, user: str) -> None:
    with deployment.server.client(deployment.keys["search"]) as http:
        response = http.post("/v1/search", json={"user": user, "query": "capybara"})
    assert response.status_code == 422, response.text


def test_10_a_group_removal_revokes_layered_access_within_one_groups_run(
    deployment: Deployment,
) -> None:
    ws = deployment.workspace
    groups = ws.docs / ".permindex-groups.yaml"
    groups.write_text(f"groups:\n  eng: [{ALICE}, {BOB}]\n")
    sidecar(ws, "i10", "allow: [org]\ninherit: false\n")
    sidecar(ws, "i10/eng", "allow: [group:eng]\n")
    ws.write("i10/eng/design.md", "# Design\n\nThe tapir ingestion design.\n")
    ws.cli("sync", SOURCE, "--groups", "--quiet")
    ws.sync()
    assert found(deployment, BOB, "tapir") == {"i10/eng/design.md"}
    groups.write_text(f"groups:\n  eng: [{ALICE}]\n")
    ws.cli("sync", SOURCE, "--groups", "--quiet")
    assert found(deployment, BOB, "tapir") == set()
    assert found(deployment, ALICE, "tapir") == {"i10/eng/design.md"}


def test_11_a_broken_groups_file_does_not_freeze_revocations(deployment: Deployment) -> None:
    ws = deployment.workspace
    groups = ws.docs / ".permindex-groups.yaml"
    groups.write_text(f"groups:\n  eng: [{ALICE}, {BOB}]\n")
    sidecar(ws, "i11", f"allow: [{ALICE}, {BOB}]\ninherit: false\n")
    ws.write("i11/revoked.md", "# Forecast\n\nThe wombat forecast.\n")
    deleted = ws.write("i11/deleted.md", "# Draft\n\nThe wombat draft.\n")
    ws.sync()
    assert found(deployment, BOB, "wombat") == {"i11/revoked.md", "i11/deleted.md"}
    try:
        groups.write_text(f"groups:\n  eng: [{ALICE}\n")  # broken while revoking
        sidecar(ws, "i11", f"allow: [{ALICE}]\ninherit: false\n")
        deleted.unlink()
        ws.sync()  # succeeds: deletions and narrowings apply while group data is bad
        assert found(deployment, BOB, "wombat") == set()
        failed = ws.cli("sync", SOURCE, "--groups", "--quiet", check=False)
        assert failed.returncode == 1 and "cleared" in failed.stderr
    finally:
        groups.write_text(f"groups:\n  eng: [{ALICE}]\n")
