"""The checkpoint of a folder source: a compact manifest of what the last run saw.

A folder has no change feed, so the checkpoint remembers, per relative path, the file's
``mtime_ns`` and size, the fingerprint of the ACL last sent to the index ("" when the document was
never sent), a fingerprint of the settings that shape the document (doc type, url) and whether
the last attempt failed (a failed file is retried on every run and never counts as deleted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple

from connectors.documents import Acl
from connectors.errors import ConnectorConfigError
from connectors.events import Checkpoint

FORMAT = "folder-manifest/1"


class Entry(NamedTuple):
    mtime_ns: int
    size: int
    acl_fp: str  # "" = nothing was ever sent to the index for this path
    shape_fp: str
    ok: bool

    @property
    def indexed(self) -> bool:
        return self.acl_fp != ""


def fingerprint(parts: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def acl_fingerprint(acl: Acl) -> str:
    return fingerprint(sorted(acl))


EMPTY_ACL_FP = acl_fingerprint(frozenset())


def load(checkpoint: Checkpoint | None) -> dict[str, Entry]:
    if checkpoint is None:
        return {}
    value = checkpoint.value
    if value.get("format") != FORMAT or not isinstance(value.get("files"), dict):
        raise ConnectorConfigError(
            f"checkpoint is not a {FORMAT} manifest (format={value.get('format')!r}); "
            "run a full sync to rebuild it"
        )
    try:
        return {
            str(path): Entry(int(row[0]), int(row[1]), str(row[2]), str(row[3]), bool(row[4]))
            for path, row in value["files"].items()
        }
    except (TypeError, ValueError, IndexError) as exc:
        raise ConnectorConfigError(f"corrupt folder manifest in checkpoint: {exc}") from exc


def dump(files: Mapping[str, Entry], taken_at: datetime) -> Checkpoint:
    return Checkpoint(
        value={
            "format": FORMAT,
            "taken_at": taken_at.isoformat(),
            "files": {path: list(entry) for path, entry in files.items()},
        }
    )
