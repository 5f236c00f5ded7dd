"""Walk a folder source: candidate files with the ACL rules on their path, and unreadable folders.

Hidden names (dot files and dot folders, which include the sidecars) and symbolic links are
skipped: a link could pull in content from outside the root under this root's ACLs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from connectors.documents import Acl
from connectors.folder.parsing import CONTENT_TYPES
from connectors.folder.sidecar import SIDECAR_NAME, AclRule, load_sidecar
from connectors.folder.yaml_files import FolderFileError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rules:
    """What the sidecars from the root down to a folder say.

    ``layers`` are the ACLs a document must pass (each sidecar with ``allow`` adds one, or resets
    them with ``inherit: false``). ``error`` is set while a broken sidecar is on the path and no
    later sidecar replaced its ACL: documents below it have no trustworthy ACL.
    """

    layers: tuple[Acl, ...] = ()
    doc_type: str | None = None
    error: str | None = None
    files: Mapping[str, AclRule] = field(default_factory=dict)

    def apply(self, rule: AclRule) -> Rules:
        layers, error = self.layers, self.error
        if rule.allow is not None:
            if rule.inherit:
                layers = (*layers, rule.allow)
            else:
                layers, error = (rule.allow,), None
        return Rules(layers=layers, doc_type=rule.doc_type or self.doc_type, error=error)

    def for_file(self, name: str) -> Rules:
        rule = self.files.get(name)
        return (
            self.apply(rule) if rule is not None else Rules(self.layers, self.doc_type, self.error)
        )


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


def walk(root: Path, *, source: str, tenant: str) -> Iterator[FileEntry | UnreadableFolder]:
    """Depth-first, names sorted, so runs over an unchanged tree emit events in the same order."""
    stack: list[tuple[Path, tuple[str, ...], Rules]] = [(root, (), Rules())]
    while stack:
        folder, parts, inherited = stack.pop()
        relfolder = "/".join(parts)
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
            files = [
                e.name for e in entries if _visible(e.name) and e.is_file(follow_symlinks=False)
            ]
            subfolders = [
                e.name for e in entries if _visible(e.name) and e.is_dir(follow_symlinks=False)
            ]
            has_sidecar = any(e.name == SIDECAR_NAME for e in entries)
        except OSError as exc:
            log.warning("folder source %s: cannot list %r: %s", source, relfolder or ".", exc)
            yield UnreadableFolder(relfolder, f"cannot list folder: {exc.strerror or exc}")
            continue
        rules = _folder_rules(
            folder / SIDECAR_NAME, relfolder, inherited, has_sidecar, source, tenant
        )
        for name in files:
            if os.path.splitext(name)[1].lower() not in CONTENT_TYPES:
                continue
            yield FileEntry(
                relpath="/".join((*parts, name)),
                path=folder / name,
                folder=parts,
                rules=rules.for_file(name),
            )
        for name in reversed(subfolders):
            stack.append((folder / name, (*parts, name), rules))


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _folder_rules(
    path: Path, relfolder: str, inherited: Rules, present: bool, source: str, tenant: str
) -> Rules:
    if not present:
        return Rules(inherited.layers, inherited.doc_type, inherited.error)
    label = f"{relfolder}/{SIDECAR_NAME}" if relfolder else SIDECAR_NAME
    try:
        sidecar = load_sidecar(path, label, source=source, tenant=tenant)
    except FolderFileError as exc:
        log.warning("folder source %s: %s", source, exc)
        # Whatever this sidecar meant to allow or forbid is unknown: nothing below is trusted.
        return Rules(layers=(), doc_type=inherited.doc_type, error=str(exc))
    rules = inherited.apply(sidecar)
    return Rules(rules.layers, rules.doc_type, rules.error, files=sidecar.files)
