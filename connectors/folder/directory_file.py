"""Groups and identity mappings of a folder source, from YAML files at its root.

``.permindex-groups.yaml``::

    groups:
      eng: [alice@example.com, group:platform]   # nested groups allowed, cycles harmless
      platform: [carol@example.com, account:u42]
    identities:
      u42: carol@example.com                      # account:<source>:u42 is carol

``.permindex-identities.yaml`` (optional sibling) may hold more ``identities``. Both files are
optional. A file that is present but invalid, unreadable or misnamed means no groups at all: the
connector hides what needs them and a groups run clears the source's memberships.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from connectors.directory import GroupMembership, IdentityMapping
from connectors.folder.names import near_miss
from connectors.folder.safe_open import read_regular_file
from connectors.folder.short_forms import expand_account_name, expand_group_name, expand_principal
from connectors.folder.yaml_files import FolderFileError, parse_yaml_model
from connectors.principals import normalise_email

GROUPS_NAME = ".permindex-groups.yaml"
IDENTITIES_NAME = ".permindex-identities.yaml"
MAX_FILE_BYTES = 8_000_000


class DirectoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: dict[str, frozenset[str]] = Field(default_factory=dict)
    identities: dict[str, str] = Field(default_factory=dict)

    @field_validator("groups", mode="before")
    @classmethod
    def _expand_groups(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            raise ValueError("groups must map a group name to a list of members")
        context = info.context or {}
        source, tenant = context["source"], context["tenant"]
        expanded: dict[str, frozenset[str]] = {}
        for name, members in value.items():
            if members is None:
                members = []
            if not isinstance(members, list):
                raise ValueError(f"members of group {name!r} must be a list")
            key = expand_group_name(str(name), source=source)
            if key in expanded:
                raise ValueError(f"group {name!r} is defined twice")
            expanded[key] = frozenset(
                expand_principal(member, source=source, tenant=tenant) for member in members
            )
        return expanded

    @field_validator("identities", mode="before")
    @classmethod
    def _expand_identities(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            raise ValueError("identities must map an account id to an email")
        source = (info.context or {})["source"]
        return {
            expand_account_name(str(key), source=source): normalise_email(str(email))
            for key, email in value.items()
        }


@dataclass(frozen=True)
class Directory:
    """Group memberships (``group -> direct members``) and ``account -> email`` mappings."""

    groups: dict[str, frozenset[str]] = field(default_factory=dict)
    identities: dict[str, str] = field(default_factory=dict)

    def members_of(self, group: str) -> frozenset[str]:
        return self.groups.get(group, frozenset())

    def memberships(self) -> list[GroupMembership]:
        return [
            GroupMembership(group=name, members=members)
            for name, members in sorted(self.groups.items())
        ]

    def mappings(self) -> list[IdentityMapping]:
        return [
            IdentityMapping(account=name, email=email)
            for name, email in sorted(self.identities.items())
        ]


def load_directory(root: Path, *, source: str, tenant: str) -> Directory:
    """Raise ``FolderFileError`` when a present file is unreadable, invalid or contradictory,
    or when a near miss of either name sits at the root (its groups would silently not count)."""
    context = {"source": source, "tenant": tenant}
    try:
        with os.scandir(root) as entries:
            names = sorted(entry.name for entry in entries)
    except OSError as exc:
        raise FolderFileError(f"cannot list the root for {GROUPS_NAME}: {exc}") from exc
    for name in names:
        for canonical in (GROUPS_NAME, IDENTITIES_NAME):
            if near_miss(name, canonical):
                raise FolderFileError(
                    f"{name}: looks like a misnamed {canonical}, the only name that is read; "
                    "rename or remove it"
                )
    groups: dict[str, frozenset[str]] = {}
    identities: dict[str, str] = {}
    for name in (GROUPS_NAME, IDENTITIES_NAME):
        if name not in names:
            continue
        loaded = parse_yaml_model(_read(root, name), DirectoryFile, name, context)
        if name == IDENTITIES_NAME and loaded.groups:
            raise FolderFileError(f"{name}: groups belong in {GROUPS_NAME}")
        for account_name, email in loaded.identities.items():
            if identities.get(account_name, email) != email:
                raise FolderFileError(
                    f"{name}: {account_name} is mapped to two emails "
                    f"({identities[account_name]} and {email})"
                )
            identities[account_name] = email
        groups.update(loaded.groups)
    return Directory(groups=groups, identities=identities)


def _read(root: Path, name: str) -> str:
    # Like sidecars: never through a link, never a FIFO that would block the run.
    try:
        data, _ = read_regular_file(root, name, MAX_FILE_BYTES)
    except OSError as exc:
        raise FolderFileError(f"{name}: cannot read: {exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise FolderFileError(f"{name}: larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FolderFileError(f"{name}: cannot read: not UTF-8 ({exc.reason})") from exc
