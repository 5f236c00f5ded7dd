"""Walk a folder source: candidate files with the ACL rules on their path, and unreadable folders.

Hidden names (dot files and dot folders, which include the sidecars) and symbolic links are
skipped: a link could pull in content from outside the root under this root's ACLs. Folders are
opened through descriptors, each component with ``O_NOFOLLOW`` (``safe_open``), so a folder
replaced by a link after its parent was listed is reported unreadable instead of followed, and
sidecars are read from the very folder that was listed.

What a sidecar cannot express fails closed like a broken sidecar, for the folder it sits in and
everything below (until a sidecar with ``inherit: false``): a file whose name looks like a
misspelt sidecar (``names.near_miss``), and a per-file rule that names no file of the folder.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from connectors.documents import Acl, AclLayer
from connectors.folder.names import near_miss
from connectors.folder.parsing import CONTENT_TYPES
from connectors.folder.safe_open import (
    UnsafePathError,
    folder,
    open_root,
    read_regular_file_at,
)
from connectors.folder.sidecar import (
    MAX_SIDECAR_BYTES,
    SIDECAR_NAME,
    AclRule,
    AclSidecar,
    parse_sidecar,
    sidecar_layers,
)
from connectors.folder.yaml_files import FolderFileError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rules:
    """What the sidecars from the root down to a folder say.

    ``layers`` are the ACLs a document must pass (each sidecar with ``allow`` adds one, or resets
    them with ``inherit: false``). ``error`` is set while a broken sidecar (or a misnamed one, or
    a per-file rule that matches no file) is on the path and no later sidecar replaced its ACL:
    documents below it have no trustworthy ACL.
    """

    layers: tuple[Acl, ...] = ()
    doc_type: str | None = None
    error: str | None = None
    files: Mapping[str, AclRule] = field(default_factory=dict)
    # Where each layer was written (sidecar and line), one per layer, for the explainer.
    labels: tuple[AclLayer, ...] = ()
    file_labels: Mapping[str, AclLayer] = field(default_factory=dict)

    def apply(self, rule: AclRule, label: AclLayer | None = None) -> Rules:
        layers, error, labels = self.layers, self.error, self.labels
        if rule.allow is not None:
            if rule.inherit:
                layers = (*layers, rule.allow)
                labels = (*labels, label) if label is not None else ()
            else:
                layers, error = (rule.allow,), None
                labels = (label,) if label is not None else ()
        if len(labels) != len(layers):
            labels = ()  # a layer without its origin: better none than misattributed ones
        return Rules(
            layers=layers, doc_type=rule.doc_type or self.doc_type, error=error, labels=labels
        )

    def for_file(self, name: str) -> Rules:
        rule = self.files.get(name)
        if rule is None:
            return Rules(self.layers, self.doc_type, self.error, labels=self.labels)
        return self.apply(rule, self.file_labels.get(name))


@dataclass(frozen=True)
class FileEntry:
    relpath: str  # POSIX, relative to the root: the external id
    path: Path
    folder: tuple[str, ...]
    rules: Rules  # already specialised for this file


@dataclass(frozen=True)
class UnreadableFolder:
    relpath: str  # "" for the root itself
    reason: str


@dataclass(frozen=True)
class _Listing:
    files: list[str]  # regular files, hidden ones included
    subfolders: list[str]  # visible folders
    near_misses: list[str]
    sidecar: bytes | None  # None: no entry named SIDECAR_NAME
    sidecar_error: str | None  # the entry exists but could not be read


def walk(root: Path, *, source: str, tenant: str) -> Iterator[FileEntry | UnreadableFolder]:
    """Depth-first, names sorted, so runs over an unchanged tree emit events in the same order."""
    try:
        root_fd = open_root(root)
    except OSError as exc:
        log.warning("folder source %s: cannot list %r: %s", source, ".", exc)
        yield UnreadableFolder("", f"cannot list folder: {exc.strerror or exc}")
        return
    try:
        stack: list[tuple[tuple[str, ...], Rules]] = [((), Rules())]
        while stack:
            parts, inherited = stack.pop()
            relfolder = "/".join(parts)
            try:
                listing = _list(root_fd, parts)
            except OSError as exc:
                log.warning("folder source %s: cannot list %r: %s", source, relfolder or ".", exc)
                reason = exc if isinstance(exc, UnsafePathError) else exc.strerror or exc
                yield UnreadableFolder(relfolder, f"cannot list folder: {reason}")
                continue
            rules = _folder_rules(listing, relfolder, inherited, source, tenant)
            for name in listing.files:
                if not _visible(name) or os.path.splitext(name)[1].lower() not in CONTENT_TYPES:
                    continue
                yield FileEntry(
                    relpath="/".join((*parts, name)),
                    path=root.joinpath(*parts, name),
                    folder=parts,
                    rules=rules.for_file(name),
                )
            for name in reversed(listing.subfolders):
                stack.append(((*parts, name), rules))
    finally:
        os.close(root_fd)


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _list(root_fd: int, parts: tuple[str, ...]) -> _Listing:
    relfolder = "/".join(parts)
    with folder(root_fd, parts) as fd:
        with os.scandir(fd) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        files: list[str] = []
        subfolders: list[str] = []
        near_misses: list[str] = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                # A folder is never a misnamed sidecar, so `permindex-acl/` stays a folder.
                if _visible(entry.name):
                    subfolders.append(entry.name)
                continue
            if entry.is_file(follow_symlinks=False):
                files.append(entry.name)
            if near_miss(entry.name, SIDECAR_NAME):
                near_misses.append(entry.name)
        sidecar: bytes | None = None
        sidecar_error: str | None = None
        if any(entry.name == SIDECAR_NAME for entry in entries):
            label = _label(relfolder, SIDECAR_NAME)
            try:
                sidecar, _ = read_regular_file_at(fd, SIDECAR_NAME, MAX_SIDECAR_BYTES, label)
            except UnsafePathError as exc:
                sidecar_error = f"cannot read: {exc.problem}"
            except OSError as exc:
                sidecar_error = f"cannot read: {exc.strerror or exc}"
    return _Listing(files, subfolders, near_misses, sidecar, sidecar_error)


def _folder_rules(
    listing: _Listing, relfolder: str, inherited: Rules, source: str, tenant: str
) -> Rules:
    problems = [
        f"{_label(relfolder, name)}: looks like a misnamed {SIDECAR_NAME}, the only name that "
        "is read; rename or remove it"
        for name in listing.near_misses
    ]
    sidecar: AclSidecar | None = None
    label = _label(relfolder, SIDECAR_NAME)
    if listing.sidecar_error is not None:
        problems.append(f"{label}: {listing.sidecar_error}")
    elif listing.sidecar is not None:
        try:
            sidecar = parse_sidecar(listing.sidecar, label, source=source, tenant=tenant)
        except FolderFileError as exc:
            problems.append(str(exc))
        else:
            problems.extend(_unmatched_rules(sidecar, listing, label))
    if problems:
        error = "; ".join(problems)
        log.warning("folder source %s: %s", source, error)
        # Whatever this folder meant to allow or forbid is unknown: nothing below is trusted.
        return Rules(layers=(), doc_type=inherited.doc_type, error=error)
    if sidecar is None:
        return Rules(inherited.layers, inherited.doc_type, inherited.error, labels=inherited.labels)
    assert listing.sidecar is not None  # parsed above
    folder_layer, file_layers = sidecar_layers(sidecar, listing.sidecar, label)
    rules = inherited.apply(sidecar, folder_layer)
    return Rules(
        rules.layers,
        rules.doc_type,
        rules.error,
        files=sidecar.files,
        labels=rules.labels,
        file_labels=file_layers,
    )


def _unmatched_rules(sidecar: AclSidecar, listing: _Listing, label: str) -> list[str]:
    """A rule for a file that is not there protects nothing, and the file it was meant for
    (``salaries.md`` under a rule for ``Salaries.md``) gets the folder's wider ACL."""
    problems = []
    files = set(listing.files)
    for name in sidecar.files:
        if name in files:
            continue
        problem = f"{label}: files: rule {name!r} matches no file in this folder"
        if name in listing.subfolders:
            problem += " (it is a folder: give the folder its own sidecar)"
        else:
            alike = sorted(f for f in files if _fold(f) == _fold(name))
            if alike:
                problem += f" (file names are case-sensitive: did you mean {alike[0]!r}?)"
        problems.append(problem)
    return problems


def _fold(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def _label(relfolder: str, name: str) -> str:
    return f"{relfolder}/{name}" if relfolder else name
