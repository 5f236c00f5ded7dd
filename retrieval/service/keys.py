"""API keys of calling services: stored hashed, each with its capabilities.

A key as handed out is ``pmx_<key id>_<secret>``. The key id is public and selects the record;
only a salted SHA-256 of the secret is stored. The secret is 256 random bits, so a fast hash is
enough (guessing is infeasible) and verification stays cheap on every request, which a slow KDF
would not. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

KEY_PREFIX = "pmx"


class Capability(StrEnum):
    SEARCH = "search"  # search and read documents on behalf of users
    ASSERT_GROUPS = "assert_groups"  # trusted to assert a user's groups
    ADMIN = "admin"  # operational endpoints (metrics, index stats) and search traces


class ApiKeyRecord(BaseModel):
    """One stored key. Never holds the secret itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(pattern=r"^[a-z0-9]{8,32}$")
    name: str = Field(min_length=1, max_length=100)
    salt: str = Field(pattern=r"^[0-9a-f]{32,128}$")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    capabilities: frozenset[Capability]
    created_at: datetime
    disabled: bool = False

    def allows(self, capability: Capability) -> bool:
        return capability in self.capabilities


class KeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[ApiKeyRecord] = Field(default_factory=list)


class KeysFileError(Exception):
    """The keys file cannot be read or does not follow the expected shape."""


def _digest(salt_hex: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt_hex) + secret.encode()).hexdigest()


def parse_key(presented: str) -> tuple[str, str] | None:
    """Split ``pmx_<id>_<secret>`` into (id, secret), or None when it is not shaped like a key."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def new_key(
    name: str, capabilities: frozenset[Capability], *, now: datetime | None = None
) -> tuple[ApiKeyRecord, str]:
    """A fresh record and the full key string; the string is the only copy of the secret."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    record = ApiKeyRecord(
        key_id=key_id,
        name=name,
        salt=salt,
        hash=_digest(salt, secret),
        capabilities=capabilities,
        created_at=now or datetime.now(UTC),
    )
    return record, f"{KEY_PREFIX}_{key_id}_{secret}"


def read_keys_file(path: Path) -> KeysFile:
    """YAML or JSON (JSON is YAML); a missing file holds no keys."""
    if not path.exists():
        return KeysFile()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KeysFileError(f"cannot read keys file {path}: {exc}") from exc
    try:
        return KeysFile.model_validate(raw or {})
    except ValueError as exc:
        raise KeysFileError(f"invalid keys file {path}: {exc}") from exc


def write_keys_file(path: Path, keys: KeysFile) -> None:
    """Atomic replace, readable by the owner only (hashes are not secrets; names are private)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.loads(keys.model_dump_json())
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(payload, handle, sort_keys=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_key(
    path: Path, name: str, capabilities: frozenset[Capability] | set[Capability]
) -> tuple[ApiKeyRecord, str]:
    """Add a key to the keys file; return (record, full key). Show the key once: it is not kept."""
    if not capabilities:
        raise ValueError("a key needs at least one capability")
    keys = read_keys_file(path)
    if any(existing.name == name and not existing.disabled for existing in keys.keys):
        raise ValueError(f"an active key named {name!r} already exists in {path}")
    record, full_key = new_key(name, frozenset(capabilities))
    keys.keys.append(record)
    write_keys_file(path, keys)
    return record, full_key


def revoke_key(path: Path, name_or_id: str) -> int:
    """Disable every active key with that name or id; returns how many were disabled."""
    keys = read_keys_file(path)
    changed = 0
    updated: list[ApiKeyRecord] = []
    for record in keys.keys:
        if not record.disabled and name_or_id in (record.name, record.key_id):
            record = record.model_copy(update={"disabled": True})
            changed += 1
        updated.append(record)
    if changed:
        write_keys_file(path, KeysFile(keys=updated))
    return changed


class ApiKeyStore:
    """Verifies presented keys. Backed by a file it re-reads when it changes (revocation without
    restart), or by records given directly."""

    def __init__(self, records: list[ApiKeyRecord] | None = None, *, path: Path | None = None):
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._by_id: dict[str, ApiKeyRecord] = {}
        if records is not None:
            self._index(records)
        if path is not None:
            self._reload_if_changed()

    @classmethod
    def from_file(cls, path: Path) -> ApiKeyStore:
        return cls(path=path)

    def _index(self, records: list[ApiKeyRecord]) -> None:
        self._by_id = {record.key_id: record for record in records}

    def _reload_if_changed(self) -> None:
        if self._path is None:
            return
        try:
            stat = self._path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        with self._lock:
            if stamp == self._stamp:
                return
            # A broken edit must not lock everyone out silently nor keep revoked keys alive:
            # raise, and the service answers 503 until the file is fixed.
            self._index(read_keys_file(self._path).keys)
            self._stamp = stamp

    def verify(self, presented: str) -> ApiKeyRecord | None:
        """The active record matching ``presented``, or None."""
        self._reload_if_changed()
        parsed = parse_key(presented)
        record = self._by_id.get(parsed[0]) if parsed else None
        if parsed is None or record is None:
            # Same work as a real check, so timing does not tell which key ids exist.
            hmac.compare_digest(_digest("00" * 16, presented), "0" * 64)
            return None
        if not hmac.compare_digest(_digest(record.salt, parsed[1]), record.hash):
            return None
        return None if record.disabled else record

    def __len__(self) -> int:
        self._reload_if_changed()
        return sum(1 for record in self._by_id.values() if not record.disabled)
