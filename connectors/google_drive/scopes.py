"""Scopes of a Drive source and the external ids of their documents.

A scope is a shared drive (read by the delegated admin) or one user's My Drive (read as that
user). The scope is part of the external id (``drive/<driveId>/<fileId>``,
``user/<email>/<fileId>``), so pruning knows a document's scope even after its drive is gone,
and a move between shared drives is a deletion in one scope and a creation in the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Scope:
    kind: Literal["drive", "user"]
    key: str  # the shared drive id, or the user's email
    subject: str  # whose credentials read it

    @property
    def name(self) -> str:
        return f"{self.kind}/{self.key}"

    @property
    def drive_id(self) -> str | None:
        return self.key if self.kind == "drive" else None

    def external_id(self, file_id: str) -> str:
        return f"{self.name}/{file_id}"


def scope_name_of(external_id: str) -> str:
    # File ids never contain "/", an email's local part may: split at the last one.
    return external_id.rsplit("/", 1)[0] if "/" in external_id else ""
