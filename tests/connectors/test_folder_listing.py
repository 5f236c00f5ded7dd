"""Listing live ids, the permissions refresh, groups and identities."""

import os
import shutil

import pytest
from pydantic import ValidationError

from connectors.errors import (
    PermissionSourceUnreadableError,
    SourceUnavailableError,
)
from connectors.events import (
    DocumentFailed,
    DocumentUpserted,
    ListingEnd,
    LiveId,
    PermissionsChanged,
)
from connectors.folder import FolderSourceConfig, from_config
from tests.connectors.folder_helpers import ORG, connector, write


def tree(root):
    write(root, ".permindex-acl.yaml", "allow: [org]\n")
    write(root, "a.md", "# A")
    write(root, "broken.txt", b"\xff")  # live even though it cannot be parsed
    write(root, "sub/b.html", "<title>B</title>")
    write(root, "zzz/c.txt", "c")


def test_listing_names_every_candidate_and_completes(tmp_path):
    tree(tmp_path)
    events = list(connector(tmp_path).list_live_ids())
    assert [e.external_id for e in events if isinstance(e, LiveId)] == [
        "a.md",
        "broken.txt",
        "sub/b.html",
        "zzz/c.txt",
    ]
    assert events[-1] == ListingEnd(completed=True)


def test_folder_vanishing_mid_listing_makes_it_incomplete(tmp_path):
    tree(tmp_path)
    events = []
    for event in connector(tmp_path).list_live_ids():
        events.append(event)
        if len(events) == 1:
            shutil.rmtree(tmp_path / "zzz")
    end = events[-1]
    assert isinstance(end, ListingEnd)
    assert not end.completed
    assert "zzz" in (end.reason or "")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their mode")
def test_unreadable_folder_makes_the_listing_incomplete(tmp_path):
    tree(tmp_path)
    (tmp_path / "sub").chmod(0)
    try:
        end = list(connector(tmp_path).list_live_ids())[-1]
    finally:
        (tmp_path / "sub").chmod(0o755)
    assert isinstance(end, ListingEnd)
    assert not end.completed
    assert "sub" in (end.reason or "")


def test_missing_root_is_incomplete_listing_and_a_systemic_failure(tmp_path):
    source = connector(tmp_path / "gone")
    events = list(source.list_live_ids())
    assert len(events) == 1
    assert isinstance(events[0], ListingEnd)
    assert not events[0].completed
    with pytest.raises(SourceUnavailableError):
        list(source.changes(None))


def test_permissions_refresh_reports_every_document(tmp_path):
    tree(tmp_path)
    write(tmp_path, "sub/.permindex-acl.yaml", "allow: [x@acme.com]\ninherit: false\n")
    write(tmp_path, "zzz/.permindex-acl.yaml", "allow: [oops\n")
    events = list(connector(tmp_path).permissions())
    acls = {e.external_id: e.acl for e in events if isinstance(e, PermissionsChanged)}
    assert acls == {
        "a.md": {"org:acme"},
        "broken.txt": {"org:acme"},
        "sub/b.html": {"user:x@acme.com"},
        "zzz/c.txt": frozenset(),  # unknown ACL: nobody
    }


def test_groups_and_identities_from_the_root_files(tmp_path):
    write(
        tmp_path,
        ".permindex-groups.yaml",
        "groups:\n  eng: [Alice@Acme.com, group:platform]\n  platform: [account:u7]\n"
        "identities:\n  u7: carol@acme.com\n",
    )
    write(tmp_path, ".permindex-identities.yaml", "identities:\n  account:u8: dave@acme.com\n")
    source = connector(tmp_path)
    source.validate()
    groups = {m.group: m.members for m in source.groups()}
    assert groups == {
        "group:docs:eng": {"user:alice@acme.com", "group:docs:platform"},
        "group:docs:platform": {"account:docs:u7"},
    }
    identities = {m.account: m.email for m in source.identities()}
    assert identities == {"account:docs:u7": "carol@acme.com", "account:docs:u8": "dave@acme.com"}
    assert source.capabilities.groups and source.capabilities.permissions_refresh


@pytest.mark.parametrize(
    "content",
    [
        "groups:\n  eng: alice@acme.com\n",  # not a list
        "groups:\n  eng: [not-a-principal]\n",
        "groups: {}\nmembers: []\n",  # unknown key
        "identities:\n  u1: not-an-email\n",
    ],
)
def test_invalid_groups_file_hides_what_needs_it_and_reads_as_no_groups(tmp_path, content):
    # Issue 7 item 11: a broken groups file used to stop every run, so deletions and
    # narrowings elsewhere never applied. Now it narrows: what needs groups is hidden.
    write(tmp_path, ".permindex-groups.yaml", content)
    write(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(tmp_path, "a.md", "# A")
    write(tmp_path, "eng/.permindex-acl.yaml", "allow: [group:eng]\n")
    write(tmp_path, "eng/b.md", "# B")
    source = connector(tmp_path)
    source.validate()
    events = list(source.changes(None))
    docs = {e.document.external_id: e.document.acl for e in events if hasattr(e, "document")}
    assert docs == {"a.md": {"org:acme"}}  # one layer: no groups needed
    failed = {e.external_id: e.reason for e in events if isinstance(e, DocumentFailed)}
    assert list(failed) == ["eng/b.md"]
    assert ".permindex-groups.yaml" in failed["eng/b.md"]
    with pytest.raises(PermissionSourceUnreadableError, match=r"\.permindex-groups\.yaml"):
        list(source.groups())
    with pytest.raises(PermissionSourceUnreadableError):
        list(source.identities())


def test_conflicting_identity_mappings_are_rejected(tmp_path):
    write(tmp_path, ".permindex-groups.yaml", "identities:\n  u1: a@acme.com\n")
    write(tmp_path, ".permindex-identities.yaml", "identities:\n  u1: b@acme.com\n")
    with pytest.raises(PermissionSourceUnreadableError, match="two emails"):
        list(connector(tmp_path).identities())


def test_symlinks_are_not_followed_out_of_the_root(tmp_path):
    outside = write(tmp_path, "outside/secret.md", "# Secret")
    root = tmp_path / "root"
    write(root, ".permindex-acl.yaml", "allow: [org]\n")
    (root / "link.md").symlink_to(outside)
    (root / "linked-dir").symlink_to(outside.parent, target_is_directory=True)
    ids = [e.external_id for e in connector(root).list_live_ids() if isinstance(e, LiveId)]
    assert ids == []


def test_config_builds_a_connector_and_rejects_unknown_keys(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(tmp_path, "a.md", "# A")
    config = FolderSourceConfig.model_validate(
        {
            "type": "folder",
            "id": "wiki",
            "path": str(tmp_path),
            "doc_type": "page",
        }
    )
    events = list(from_config(config, ORG).changes(None))
    doc = next(e.document for e in events if isinstance(e, DocumentUpserted))
    assert (doc.doc_id, doc.doc_type, doc.acl) == ("wiki:a.md", "page", {"org:acme"})
    with pytest.raises(ValidationError):
        FolderSourceConfig.model_validate({"id": "wiki", "path": str(tmp_path), "acl": "org"})


@pytest.mark.parametrize(
    "name", [".permindex-groups.yml", "permindex-groups.yaml", ".Permindex-Groups.yaml"]
)
def test_a_misnamed_groups_file_reads_as_no_groups(tmp_path, name):
    # A groups file that is silently not read would keep the memberships of the last good one.
    write(tmp_path, name, "groups:\n  eng: [alice@acme.com]\n")
    with pytest.raises(PermissionSourceUnreadableError, match="misnamed"):
        list(connector(tmp_path).groups())


def test_a_groups_file_that_is_a_fifo_or_a_link_is_refused_without_blocking(tmp_path):
    outside = write(tmp_path, "outside/groups.yaml", "groups:\n  eng: [mallory@acme.com]\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / ".permindex-groups.yaml").symlink_to(outside)
    with pytest.raises(PermissionSourceUnreadableError, match="symbolic link"):
        list(connector(root).groups())
    (root / ".permindex-groups.yaml").unlink()
    os.mkfifo(root / ".permindex-groups.yaml")
    with pytest.raises(PermissionSourceUnreadableError, match="not a regular file"):
        list(connector(root).groups())
