"""Files and folders swapped for symbolic links between the listing and the read (issue 7, item 5).

The race is made deterministic by consuming the generators one step at a time: ``walk()`` lists a
folder before it yields that folder's files and scans subfolders only after that, and the
connector reads each file right after ``walk()`` yields it.
"""

import os
import shutil
import stat
import threading
from pathlib import Path

import pytest

from connectors.events import DocumentFailed, DocumentUpserted
from connectors.folder.safe_open import UnsafePathError, read_regular_file
from connectors.folder.tree import FileEntry, UnreadableFolder, walk
from tests.connectors.folder_helpers import connector, write


def build(tmp_path):
    """root allows org; hr/ is restricted by its own sidecar, hr/2024/ only by inheritance."""
    root = tmp_path / "root"
    write(root, ".permindex-acl.yaml", "allow: [org]\n")
    write(root, ".permindex-groups.yaml", "groups:\n  hr: [dave@acme.com]\n")
    write(root, "a.md", "# A public page")
    write(root, "b.md", "# B public page")
    write(root, "hr/.permindex-acl.yaml", "allow: [group:hr]\n")
    write(root, "hr/salaries.md", "# Salaries SECRET-INSIDE")
    write(root, "hr/2024/salaries.md", "# Salaries 2024 SECRET-INSIDE")
    write(root, "pub/notes.md", "# Notes")
    write(root, "pub/deeper/more.md", "# More")
    outside = write(tmp_path, "outside/passwords.md", "# Passwords SECRET-OUTSIDE")
    return root, outside


def first_run(root):
    """The events of a first run over ``root``, as a generator the test can pause."""
    return connector(root).changes(None)


def swap_for_link(path: Path, target: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.symlink_to(target, target_is_directory=target.is_dir())


def call_with_deadline(function, *args, seconds=5.0):
    """Run ``function`` in a thread; fail instead of hanging the suite if it blocks."""
    outcome = {}

    def target():
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    return thread.is_alive(), outcome


# -- read_regular_file -----------------------------------------------------------------------


def test_read_regular_file_returns_the_bytes_and_the_stat_of_what_was_read(tmp_path):
    root, _ = build(tmp_path)
    data, info = read_regular_file(root, "hr/2024/salaries.md", 1000)
    assert data == b"# Salaries 2024 SECRET-INSIDE"
    assert stat.S_ISREG(info.st_mode)
    assert info.st_size == len(data)
    assert info.st_ino == (root / "hr/2024/salaries.md").stat().st_ino
    # at most max_bytes + 1, so the caller can tell "too big" from "exactly the limit"
    assert read_regular_file(root, "a.md", 3)[0] == b"# A "


@pytest.mark.parametrize("target", ["outside", "restricted"])
def test_a_file_swapped_for_a_symlink_is_not_read(tmp_path, target):
    root, outside = build(tmp_path)
    swap_for_link(root / "b.md", outside if target == "outside" else root / "hr/salaries.md")
    with pytest.raises(UnsafePathError, match=r"b\.md.*symbolic link"):
        read_regular_file(root, "b.md", 1000)


@pytest.mark.parametrize("target", ["outside", "restricted"])
def test_a_folder_on_the_path_swapped_for_a_symlink_is_not_followed(tmp_path, target):
    root, outside = build(tmp_path)
    write(outside.parent, "notes.md", "# Outside notes SECRET-OUTSIDE")
    write(root, "hr/2024/notes.md", "# HR notes SECRET-INSIDE")
    swap_for_link(root / "pub", outside.parent if target == "outside" else root / "hr/2024")
    with pytest.raises(UnsafePathError, match=r"pub.*symbolic link"):
        read_regular_file(root, "pub/notes.md", 1000)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    root, _ = build(tmp_path)
    (root / "b.md").unlink()
    os.mkfifo(root / "b.md")
    try:
        blocked, outcome = call_with_deadline(read_regular_file, root, "b.md", 1000)
    finally:
        # unblock a thread stuck in open() so it does not outlive the test
        if blocked:
            os.close(os.open(root / "b.md", os.O_WRONLY | os.O_NONBLOCK))
    assert not blocked
    assert isinstance(outcome.get("error"), UnsafePathError)
    assert "not a regular file" in str(outcome["error"])


@pytest.mark.parametrize("relpath", ["hr", "../outside/passwords.md", "/etc/passwd", "a.md/x"])
def test_paths_that_are_not_regular_files_below_the_root_are_refused(tmp_path, relpath):
    root, _ = build(tmp_path)
    with pytest.raises(UnsafePathError):
        read_regular_file(root, relpath, 1000)


def test_a_vanished_file_is_a_plain_os_error(tmp_path):
    root, _ = build(tmp_path)
    (root / "b.md").unlink()
    with pytest.raises(FileNotFoundError):
        read_regular_file(root, "b.md", 1000)


def test_unsafe_path_error_is_an_os_error():
    # callers that already turn OSError into a per-document failure keep working unchanged
    assert issubclass(UnsafePathError, OSError)


# -- walk() ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["outside", "restricted"])
def test_a_subfolder_swapped_after_its_parent_was_listed_is_not_scanned(tmp_path, target):
    root, outside = build(tmp_path)
    items = walk(root, source="docs", tenant="acme")
    first = next(items)
    assert isinstance(first, FileEntry) and first.relpath == "a.md"
    # root is listed (pub is a real folder, queued to be scanned later): swap it now
    swap_for_link(root / "pub", outside.parent if target == "outside" else root / "hr/2024")
    rest = list(items)
    files = {item.relpath: item for item in rest if isinstance(item, FileEntry)}
    assert not any(relpath.startswith("pub/") for relpath in files)
    unreadable = [item for item in rest if isinstance(item, UnreadableFolder)]
    assert [item.relpath for item in unreadable] == ["pub"]
    assert "symbolic link" in unreadable[0].reason
    assert {"hr/salaries.md", "hr/2024/salaries.md"} <= set(files)


def test_a_parent_folder_swapped_after_its_subfolders_were_queued_is_not_followed(tmp_path):
    root, outside = build(tmp_path)
    write(outside.parent, "deeper/more.md", "# More SECRET-OUTSIDE")
    items = walk(root, source="docs", tenant="acme")
    for item in items:
        if isinstance(item, FileEntry) and item.relpath == "pub/notes.md":
            break
    # pub/ is listed and pub/deeper queued: replace pub by a link to a look-alike tree
    swap_for_link(root / "pub", outside.parent)
    rest = list(items)
    assert not [item for item in rest if isinstance(item, FileEntry)]
    assert [item.relpath for item in rest if isinstance(item, UnreadableFolder)] == ["pub/deeper"]


def test_a_sidecar_swapped_for_a_fifo_fails_the_folder_instead_of_blocking(tmp_path):
    root, _ = build(tmp_path)
    sidecar = root / "hr/.permindex-acl.yaml"
    sidecar.unlink()
    os.mkfifo(sidecar)
    try:
        blocked, outcome = call_with_deadline(
            lambda: list(walk(root, source="docs", tenant="acme"))
        )
    finally:
        if blocked:
            os.close(os.open(sidecar, os.O_WRONLY | os.O_NONBLOCK))
    assert not blocked
    files = {item.relpath: item for item in outcome["value"] if isinstance(item, FileEntry)}
    assert files["hr/salaries.md"].rules.error is not None
    assert "hr/.permindex-acl.yaml" in files["hr/salaries.md"].rules.error


def test_a_sidecar_that_is_a_symlink_fails_the_folder_closed(tmp_path):
    root, _ = build(tmp_path)
    write(root, "public-acl.yaml", "allow: [org]\n")
    swap_for_link(root / "hr/.permindex-acl.yaml", root / "public-acl.yaml")
    events = list(first_run(root))
    failed = {e.external_id: e.reason for e in events if isinstance(e, DocumentFailed)}
    assert {"hr/salaries.md", "hr/2024/salaries.md"} <= set(failed)
    assert "symbolic link" in failed["hr/salaries.md"]


# -- through the connector -------------------------------------------------------------------


def test_a_subfolder_swapped_mid_run_leaks_nothing_through_changes(tmp_path):
    root, _ = build(tmp_path)
    events = first_run(root)
    first = next(events)
    assert isinstance(first, DocumentUpserted) and first.document.external_id == "a.md"
    swap_for_link(root / "pub", root / "hr/2024")
    rest = list(events)
    leaked = [
        e.document.external_id
        for e in rest
        if isinstance(e, DocumentUpserted)
        and "SECRET" in e.document.body
        and e.document.acl == {"org:acme"}
    ]
    assert leaked == []
    assert not any(
        isinstance(e, DocumentUpserted) and e.document.external_id.startswith("pub/") for e in rest
    )


@pytest.mark.parametrize("target", ["outside", "restricted"])
def test_a_file_swapped_mid_run_leaks_nothing_through_changes(tmp_path, target):
    root, outside = build(tmp_path)
    events = first_run(root)
    first = next(events)
    assert isinstance(first, DocumentUpserted) and first.document.external_id == "a.md"
    # the root is listed and b.md not read yet: swap it for a link
    swap_for_link(root / "b.md", outside if target == "outside" else root / "hr/salaries.md")
    rest = list(events)
    assert not [
        e for e in rest if isinstance(e, DocumentUpserted) and e.document.external_id == "b.md"
    ]
    failed = {e.external_id: e.reason for e in rest if isinstance(e, DocumentFailed)}
    assert "b.md" in failed and "symbolic link" in failed["b.md"]
