"""Incremental runs compare the tree with what the index holds (the replica, here)."""

import shutil

from connectors.events import CheckpointReached, DocumentFailed
from tests.connectors.folder_helpers import Replica, connector, kinds, touch_later, write

GROUPS = "groups:\n  eng: [alice@acme.com, bob@acme.com]\n"


def fresh_replica(root):
    """What a first full run over ``root`` as it is now would index."""
    replica = Replica()
    replica.sync(connector(root))
    return replica.docs


def build(root):
    write(root, ".permindex-acl.yaml", "allow: [org]\n")
    write(root, ".permindex-groups.yaml", GROUPS)
    write(root, "eng/.permindex-acl.yaml", "allow: [group:eng]\n")
    write(root, "eng/secret/.permindex-acl.yaml", "allow: [alice@acme.com, bob@acme.com]\n")
    write(root, "eng/secret/plan.md", "# Plan")
    write(root, "eng/design.md", "# Design")
    write(root, "handbook.txt", "welcome")


def test_unchanged_tree_emits_only_a_checkpoint(tmp_path):
    build(tmp_path)
    replica = Replica()
    first = replica.sync(connector(tmp_path))
    assert sorted(kinds(first)) == [
        ("upsert", "eng/design.md"),
        ("upsert", "eng/secret/plan.md"),
        ("upsert", "handbook.txt"),
    ]
    assert isinstance(first[-1], CheckpointReached)
    second = replica.sync(connector(tmp_path))
    assert kinds(second) == []
    assert isinstance(second[-1], CheckpointReached)


def test_create_update_delete_and_move(tmp_path):
    build(tmp_path)
    replica = Replica()
    replica.sync(connector(tmp_path))
    write(tmp_path, "eng/new.md", "# New")
    touch_later(write(tmp_path, "handbook.txt", "welcome, updated"))
    (tmp_path / "eng/design.md").unlink()
    (tmp_path / "eng/secret/plan.md").rename(tmp_path / "eng/plan.md")
    events = replica.sync(connector(tmp_path))
    assert sorted(kinds(events)) == [
        ("delete", "eng/design.md"),
        ("delete", "eng/secret/plan.md"),
        ("upsert", "eng/new.md"),
        ("upsert", "eng/plan.md"),
        ("upsert", "handbook.txt"),
    ]
    # the moved file took the ACL of its new folder (eng's members, all inside the org)
    assert replica.docs["eng/plan.md"][2] == {"user:alice@acme.com", "user:bob@acme.com"}
    assert replica.docs == fresh_replica(tmp_path)


def test_sidecar_edit_is_a_permissions_change_without_content(tmp_path):
    build(tmp_path)
    replica = Replica()
    replica.sync(connector(tmp_path))
    write(tmp_path, "eng/secret/.permindex-acl.yaml", "allow: [alice@acme.com]\n")
    events = replica.sync(connector(tmp_path))
    assert kinds(events) == [("permissions", "eng/secret/plan.md")]
    assert replica.docs["eng/secret/plan.md"][2] == {"user:alice@acme.com"}


def test_group_file_edit_changes_acls_that_depended_on_membership(tmp_path):
    build(tmp_path)
    replica = Replica()
    replica.sync(connector(tmp_path))
    assert replica.docs["eng/secret/plan.md"][2] == {"user:alice@acme.com", "user:bob@acme.com"}
    write(tmp_path, ".permindex-groups.yaml", "groups:\n  eng: [alice@acme.com]\n")
    events = replica.sync(connector(tmp_path))
    assert kinds(events) == [
        ("permissions", "eng/design.md"),
        ("permissions", "eng/secret/plan.md"),
    ]
    assert replica.docs["eng/secret/plan.md"][2] == {"user:alice@acme.com"}
    assert replica.docs["eng/design.md"][2] == {"user:alice@acme.com"}


def test_doc_type_change_in_a_sidecar_reindexes(tmp_path):
    build(tmp_path)
    replica = Replica()
    replica.sync(connector(tmp_path))
    write(tmp_path, "eng/.permindex-acl.yaml", "allow: [group:eng]\ndoc_type: page\n")
    events = replica.sync(connector(tmp_path))
    assert sorted(kinds(events)) == [("upsert", "eng/design.md"), ("upsert", "eng/secret/plan.md")]


def test_failed_file_stays_known_is_retried_and_never_deleted(tmp_path):
    build(tmp_path)
    replica = Replica()
    replica.sync(connector(tmp_path))
    touch_later(write(tmp_path, "handbook.txt", b"\xff\xfe broken"))
    first = replica.sync(connector(tmp_path))
    assert kinds(first) == [("failed", "handbook.txt")]
    assert replica.docs["handbook.txt"][1] == "welcome"  # old content stays searchable
    again = replica.sync(connector(tmp_path))
    assert kinds(again) == [("failed", "handbook.txt")]  # retried, not deleted
    touch_later(write(tmp_path, "handbook.txt", "welcome back"))
    fixed = replica.sync(connector(tmp_path))
    assert kinds(fixed) == [("upsert", "handbook.txt")]
    assert replica.docs == fresh_replica(tmp_path)


def test_failed_file_with_a_narrowed_acl_gets_the_narrower_acl(tmp_path):
    build(tmp_path)
    replica = Replica()
    replica.sync(connector(tmp_path))
    touch_later(write(tmp_path, "eng/design.md", b"\xff broken"))
    write(tmp_path, "eng/.permindex-acl.yaml", "allow: [bob@acme.com]\n")
    events = replica.sync(connector(tmp_path))
    assert ("permissions", "eng/design.md") in kinds(events)
    assert replica.docs["eng/design.md"][2] == {"user:bob@acme.com"}


def test_folder_vanishing_mid_walk_deletes_nothing(tmp_path):
    build(tmp_path)
    write(tmp_path, "zzz/.permindex-acl.yaml", "allow: [org]\n")
    write(tmp_path, "zzz/last.md", "# Last")
    replica = Replica()
    replica.sync(connector(tmp_path))
    touch_later(write(tmp_path, "handbook.txt", "changed"))  # an event before zzz is walked
    events = []
    for event in connector(tmp_path).changes(replica.checkpoint, replica):
        events.append(event)
        if len(events) == 1:
            shutil.rmtree(tmp_path / "zzz")  # listed at the root, gone before it is walked
    # an OS error listing a folder is not evidence that its files were deleted
    assert ("delete", "zzz/last.md") not in kinds(events)
    assert [e.external_id for e in events if isinstance(e, DocumentFailed)] == ["zzz/last.md"]
    replica.apply(events)
    # listed, then gone before it was read (or its folder before it was listed): never wider
    assert replica.docs["zzz/last.md"][2] <= {"org:acme"}
    # the next run sees the folder gone for real and deletes
    assert kinds(replica.sync(connector(tmp_path))) == [("delete", "zzz/last.md")]


def test_resuming_from_any_intermediate_checkpoint_converges(tmp_path):
    build(tmp_path)
    for n in range(6):
        write(tmp_path, f"eng/bulk/{n}.md", f"# Bulk {n}")
    base = Replica()
    base.sync(connector(tmp_path, checkpoint_every=1))
    # change everything kind of change at once
    write(tmp_path, "eng/bulk/new.md", "# New")
    touch_later(write(tmp_path, "eng/bulk/2.md", "# Bulk 2 v2"))
    (tmp_path / "eng/bulk/4.md").unlink()
    (tmp_path / "eng/design.md").rename(tmp_path / "moved.md")
    write(tmp_path, "eng/secret/.permindex-acl.yaml", "allow: [bob@acme.com]\n")
    expected = fresh_replica(tmp_path)
    full = list(connector(tmp_path, checkpoint_every=1).changes(base.checkpoint))
    stops = [i for i, event in enumerate(full) if isinstance(event, CheckpointReached)]
    assert len(stops) > 3
    for stop in stops:
        # a crash right after the checkpoint at ``stop`` was saved, then a resumed run
        replica = Replica(docs=dict(base.docs), checkpoint=base.checkpoint)
        replica.apply(full[: stop + 1])
        replica.sync(connector(tmp_path, checkpoint_every=1))
        assert replica.docs == expected, f"diverged after resuming at event {stop}"
