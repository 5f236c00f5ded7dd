"""Opening files and folders below a source root without following symbolic links.

Between the listing of a folder and the read of a file in it, anyone who may write in the tree
can replace the file, or any folder on its path, by a symbolic link: to a restricted file
elsewhere in the tree or to anything outside the root. Reading by path would follow the link
and index that content under the ACL of the folder that was listed. So every path component
is opened relative to its parent's descriptor with ``O_NOFOLLOW`` (a link anywhere on the path
is refused, and no component may be ``..``), and only a descriptor that ``fstat`` shows to be a
regular file is read. A FIFO or device swapped in is refused without blocking (``O_NONBLOCK``).

The root itself is opened normally: its path comes from the operator's configuration, and
links there are the operator's choice.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

_READ_CHUNK = 1 << 20
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class UnsafePathError(OSError):
    """A path below the root that is not read: a symbolic link on it, a component that is not
    a plain name, or a final object that is not a regular file (or not a folder, for folders).

    A subclass of ``OSError`` so that code turning ``OSError`` into a per-document failure
    handles it unchanged; ``str()`` names the offending path and the problem.
    """

    def __init__(self, path: str, problem: str, code: int = errno.EINVAL) -> None:
        super().__init__(code, problem, path)
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def split_relpath(relpath: str) -> tuple[str, ...]:
    """The components of a POSIX path relative to the root; raise ``UnsafePathError`` unless
    every one is a plain name (no absolute path, ``.``, ``..``, empty part or NUL)."""
    parts = tuple(relpath.split("/"))
    if not relpath or relpath.startswith("/") or "\0" in relpath:
        raise UnsafePathError(relpath, "not a path relative to the source root")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafePathError(relpath, "not a plain path below the source root")
    return parts


def open_root(root: Path) -> int:
    """A descriptor of the root folder (the caller closes it)."""
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def open_folder(root_fd: int, parts: Sequence[str]) -> int:
    """A descriptor of the folder ``parts`` below ``root_fd`` (the caller closes it).

    Raises ``UnsafePathError`` if any component is a symbolic link or not a folder, and the
    ``OSError`` of ``open`` otherwise (for example ``FileNotFoundError`` when it vanished).
    """
    fd = os.dup(root_fd)
    for depth, part in enumerate(parts):
        try:
            child = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
        except OSError as exc:
            try:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _not_followed(fd, part, "/".join(parts[: depth + 1])) from exc
                raise
            finally:
                os.close(fd)
        os.close(fd)
        fd = child
    return fd


@contextmanager
def folder(root_fd: int, parts: Sequence[str]) -> Iterator[int]:
    """``open_folder`` as a context manager that closes the descriptor."""
    fd = open_folder(root_fd, parts)
    try:
        yield fd
    finally:
        os.close(fd)


def read_regular_file(root: Path, relpath: str, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """Read at most ``max_bytes + 1`` bytes of the regular file ``relpath`` below ``root``.

    Returns the bytes and the ``fstat`` of the descriptor they were read from (use its size and
    mtime: they describe what was read, not what a later ``stat`` by path finds). Reading one
    byte more than the limit lets the caller tell a file that grew over it.

    Raises ``UnsafePathError`` (an ``OSError``) when ``relpath`` is not a plain relative path,
    when any component (folder or file) is a symbolic link, or when the file is not a regular
    file (a folder, FIFO, socket or device); any other ``OSError`` of opening or reading as is
    (``FileNotFoundError`` when the file or a folder on its path vanished, ``PermissionError``).
    """
    parts = split_relpath(relpath)
    root_fd = open_root(root)
    try:
        with folder(root_fd, parts[:-1]) as parent:
            return read_regular_file_at(parent, parts[-1], max_bytes, relpath)
    finally:
        os.close(root_fd)


def read_regular_file_at(
    dir_fd: int, name: str, max_bytes: int, label: str
) -> tuple[bytes, os.stat_result]:
    """``read_regular_file`` for the entry ``name`` of the open folder ``dir_fd``.

    ``label`` names the file in errors (its path relative to the root).
    """
    if not name or "/" in name or name in (".", ".."):
        raise UnsafePathError(label, "not a plain file name")
    # Refusing on the entry's own type first keeps a device from ever being opened; the fstat
    # after opening catches a swap between this check and the open.
    before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    _require_regular(before, label)
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(label, "is a symbolic link (not followed)", errno.ELOOP) from exc
        raise
    try:
        info = os.fstat(fd)
        _require_regular(info, label)
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, _READ_CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks), info
    finally:
        os.close(fd)


def _require_regular(info: os.stat_result, label: str) -> None:
    mode = info.st_mode
    if stat.S_ISREG(mode):
        return
    if stat.S_ISLNK(mode):
        raise UnsafePathError(label, "is a symbolic link (not followed)", errno.ELOOP)
    if stat.S_ISDIR(mode):
        raise UnsafePathError(label, "is a folder, not a regular file", errno.EISDIR)
    raise UnsafePathError(label, f"is not a regular file ({_kind(mode)})")


def _not_followed(parent_fd: int, name: str, label: str) -> UnsafePathError:
    try:
        mode = os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode
    except OSError:
        mode = 0
    if stat.S_ISLNK(mode):
        return UnsafePathError(label, "is a symbolic link (not followed)", errno.ELOOP)
    return UnsafePathError(label, f"is not a folder ({_kind(mode)})", errno.ENOTDIR)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISREG(mode):
        return "a regular file"
    return "unknown type"
