"""A Drive v3 emulator on the base: shared drives, files, changes, permissions, export, media.

Answers as Drive does (https://developers.google.com/workspace/drive/api/reference/rest/v3),
checked against the ``drive.v3.json`` discovery document google-api-python-client ships:

- Callers are impersonated users: ``Authorization: Bearer emu:<email>`` (see
  ``EmulatorCredentials``), so the connector's domain-wide delegation is exercised as such, or
  the bearer of an access token the token endpoint emulator issued for a user (``tokens``).
- Changes: one feed per shared drive and per user; page tokens are positions in the change
  log; a feed lists the latest change of each file; a token older than ``expire_page_tokens``
  is refused with 400. A sharing change on a folder records a change of the folder only, as
  Drive may (its children get none), and trashing a folder trashes its descendants silently.
- Permissions: ``permissions.list`` pages the effective grants, inherited ones included
  (``permissionDetails.inherited``), cut by limited-access folders (organizers excepted).
- Quota refusals: a ``ServerError(status=403)`` fault answers 403 ``userRateLimitExceeded``
  and a ``RateLimited`` fault 429 ``rateLimitExceeded``, both without Retry-After, as Drive.
- Partial responses (``fields``) are accepted and ignored: whole resources are returned.
- Shortcuts (``add_shortcut``) carry ``shortcutDetails``, the target's resource key included.
- Resource keys: a file marked by ``require_resource_key`` answers 404 to everyone but its owner
  on files.get, media, export and permissions.list unless the request's
  ``X-Goog-Drive-Resource-Keys`` header (comma-separated ``fileId/resourceKey``) holds its key,
  as Drive answers users who reach a link-shared file they have not opened before. Listings
  still show it, with its ``resourceKey``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
from google.auth.credentials import Credentials

from tests.emulators.base import ApiRequest, ApiResponse, Emulator, Handler
from tests.emulators.discovery import MEDIA, DiscoveryDocument
from tests.emulators.google_oauth import TokenBook

FOLDER = "application/vnd.google-apps.folder"
SHORTCUT = "application/vnd.google-apps.shortcut"
DOC = "application/vnd.google-apps.document"
SHEET = "application/vnd.google-apps.spreadsheet"
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_EXPORTS = {DOC: ("text/plain",), SHEET: ("text/csv", XLSX)}


class EmulatorCredentials(Credentials):
    """Credentials naming the impersonated user, as a delegated token stands for one."""

    def __init__(self, subject: str) -> None:
        super().__init__()
        self.token = f"emu:{subject}"

    def refresh(self, request: Any) -> None:
        return None


def credentials_for(subject: str) -> Credentials:
    return EmulatorCredentials(subject)


def subject_of(token: str, tokens: TokenBook | None) -> str | None:
    """The user a bearer token stands for: ``emu:<email>``, or one the token endpoint issued."""
    if token.startswith("emu:"):
        return token[4:]
    return tokens.subject(token) if tokens is not None else None


@dataclass
class Grant:
    id: str
    type: str  # user, group, domain, anyone
    role: str = "reader"
    email: str | None = None
    domain: str | None = None
    discoverable: bool = True
    expires: str | None = None
    deleted: bool = False

    def resource(self, inherited: bool, source: str | None, in_drive: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "drive#permission",
            "id": self.id,
            "type": self.type,
            "role": self.role,
        }
        if self.email:
            body["emailAddress"] = self.email
        if self.domain:
            body["domain"] = self.domain
        if self.type in ("domain", "anyone"):
            body["allowFileDiscovery"] = self.discoverable
        if self.expires:
            body["expirationTime"] = self.expires
        if self.deleted:
            body["deleted"] = True
        detail: dict[str, Any] = {
            "permissionType": "member" if source and source.startswith("drive:") else "file",
            "role": self.role,
            "inherited": inherited,
        }
        if inherited and in_drive and source:
            detail["inheritedFrom"] = source.removeprefix("drive:")
        body["permissionDetails"] = [detail]
        return body


@dataclass
class Item:
    id: str
    name: str
    mime: str
    parents: list[str]
    drive: str | None
    owner: str | None
    content: bytes = b""
    created: int = 0
    modified: int = 0
    version: int = 1
    trashed: bool = False
    grants: list[Grant] = field(default_factory=list)
    limited: bool = False
    resource_key: str | None = None
    # Only the owner may list the permissions (Drive refuses readers of some files).
    permissions_hidden: bool = False
    key_required: bool = False
    target: str | None = None  # a shortcut's target id
    target_mime: str | None = None
    # A Sheet's sheets (title -> CSV); None: one sheet holding ``content``.
    sheets: dict[str, str] | None = None


@dataclass
class SharedDrive:
    id: str
    name: str
    members: list[Grant] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    seq: int
    feed: str
    file_id: str
    removed: bool
    at: int


@dataclass
class DriveState:
    admin: str
    users: list[str]
    drives: dict[str, SharedDrive] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    seq: int = 0
    tick: int = 0
    serial: int = 0
    min_token: int = 1


def stamp(tick: int) -> str:
    return (_EPOCH + timedelta(seconds=tick)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class DriveEmulator(Emulator):
    document = DiscoveryDocument("drive.v3.json")
    state: DriveState

    def __init__(
        self,
        *,
        seed: int = 0,
        admin: str = "admin@acme.com",
        users: tuple[str, ...] = ("alice@acme.com", "bob@acme.com", "carol@acme.com"),
        tokens: TokenBook | None = None,
    ) -> None:
        self._admin = admin
        self._users = users
        self.tokens = tokens
        super().__init__(seed=seed)

    def seed_state(self, rng: random.Random) -> DriveState:
        return DriveState(admin=self._admin, users=[self._admin, *self._users])

    def default_handlers(self) -> dict[str, Handler]:
        return {
            "drive.drives.list": self.drives_list,
            "drive.drives.get": self.drives_get,
            "drive.changes.getStartPageToken": self.start_page_token,
            "drive.changes.list": self.changes_list,
            "drive.files.list": self.files_list,
            "drive.files.get": self.files_get,
            "drive.files.export": self.files_export,
            "drive.permissions.list": self.permissions_list,
        }

    def route_of(self, method: str, path: str) -> str | None:
        assert isinstance(self.document, DiscoveryDocument)
        return self.document.route_of(method, path)

    def token_known(self, token: str) -> bool:
        return subject_of(token, self.tokens) in self.state.users

    def spec_response_key(self, request: ApiRequest, response: ApiResponse) -> str | None:
        if response.raw is not None and response.status == 200:
            return MEDIA
        return None

    def fault_response(
        self, request: ApiRequest, status: int, retry_after: str | None
    ) -> ApiResponse:
        # Drive never sends Retry-After on quota refusals.
        if status == 429:
            return google_error(429, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits")
        if status == 403:
            return google_error(
                403, "userRateLimitExceeded", "User Rate Limit Exceeded", "usageLimits"
            )
        return google_error(status, "backendError", "Backend Error")

    # What tests do to the source, as its users would.

    def _next_id(self, prefix: str) -> str:
        self.state.serial += 1
        return f"{prefix}{self.state.serial:04d}"

    def _now(self) -> int:
        self.state.tick += 60
        return self.state.tick

    def add_drive(self, name: str, members: dict[str, str]) -> str:
        """A shared drive; ``members`` maps a user email, or ``group:<email>``, to its role."""
        with self.lock:
            drive_id = self._next_id("0AD")
            grants = [
                Grant(id=self._next_id("p"), type=kind, role=role, email=email)
                for kind, email, role in (
                    (*_kind(member), role) for member, role in members.items()
                )
            ]
            self.state.drives[drive_id] = SharedDrive(drive_id, name, grants)
            return drive_id

    def remove_drive(self, drive_id: str) -> None:
        with self.lock:
            del self.state.drives[drive_id]
            for item_id in [i for i, item in self.state.items.items() if item.drive == drive_id]:
                del self.state.items[item_id]

    def add_file(
        self,
        name: str,
        content: str | bytes = b"",
        *,
        parent: str | None = None,
        drive: str | None = None,
        owner: str | None = None,
        mime: str = "text/plain",
        grants: list[Grant] | None = None,
    ) -> str:
        with self.lock:
            if parent is not None:
                drive = self.state.items[parent].drive
                owner = owner if drive is None else None
                owner = owner or self.state.items[parent].owner
            if drive is None and owner is None:
                raise ValueError("a file lives in a shared drive or in its owner's My Drive")
            at = self._now()
            item = Item(
                id=self._next_id("f"),
                name=name,
                mime=mime,
                parents=[parent or drive or f"root-{owner}"],
                drive=drive,
                owner=None if drive else owner,
                content=content.encode() if isinstance(content, str) else content,
                created=at,
                modified=at,
                grants=list(grants or []),
            )
            self.state.items[item.id] = item
            self._record(item, set())
            return item.id

    def add_shortcut(self, name: str, target: str, **kwargs: Any) -> str:
        """A shortcut to ``target`` (placed as ``add_file`` places files)."""
        shortcut = self.add_file(name, mime=SHORTCUT, **kwargs)
        with self.lock:
            item = self.state.items[shortcut]
            item.target = target
            item.target_mime = self.state.items[target].mime
            return shortcut

    def add_sheet(self, name: str, sheets: dict[str, str], **kwargs: Any) -> str:
        """A Google Sheet of several sheets (title -> CSV rows), in order."""
        first = next(iter(sheets.values()), "")
        sheet = self.add_file(name, first, mime=SHEET, **kwargs)
        with self.lock:
            self.state.items[sheet].sheets = dict(sheets)
            return sheet

    def require_resource_key(self, file_id: str) -> str:
        """From now on ``file_id`` opens only with its resource key (its owner excepted)."""
        with self.lock:
            item = self.state.items[file_id]
            item.resource_key = item.resource_key or f"0-key{self._next_id('')}"
            item.key_required = True
            return item.resource_key

    def add_folder(self, name: str, **kwargs: Any) -> str:
        return self.add_file(name, mime=FOLDER, **kwargs)

    def grant(self, **kwargs: Any) -> Grant:
        with self.lock:
            return Grant(id=self._next_id("p"), **kwargs)

    def edit(self, file_id: str, content: str) -> None:
        with self.lock:
            item = self.state.items[file_id]
            before = self._feeds(item)
            item.content, item.modified = content.encode(), self._now()
            self._bump(item, before)

    def share(self, file_id: str, grant: Grant) -> None:
        with self.lock:
            item = self.state.items[file_id]
            before = self._feeds(item)
            item.grants.append(grant)
            self._bump(item, before)

    def unshare(self, file_id: str, grant_id: str) -> None:
        with self.lock:
            item = self.state.items[file_id]
            before = self._feeds(item)
            item.grants = [g for g in item.grants if g.id != grant_id]
            self._bump(item, before)

    def limit_access(self, file_id: str, limited: bool = True) -> None:
        with self.lock:
            item = self.state.items[file_id]
            before = self._feeds(item)
            item.limited = limited
            self._bump(item, before)

    def move(self, file_id: str, parent: str | None = None, drive: str | None = None) -> None:
        """To ``parent`` (a folder) or to the root of shared drive ``drive``."""
        with self.lock:
            item = self.state.items[file_id]
            moved = [item, *self._descendants(item.id)]
            before = {m.id: self._feeds(m) for m in moved}
            target_drive = self.state.items[parent].drive if parent else drive
            item.parents = [parent or target_drive or f"root-{item.owner}"]
            for m in moved:
                if target_drive is not None:
                    m.drive, m.owner = target_drive, None
            for m in moved:
                self._bump(m, before[m.id])

    def trash(self, file_id: str, trashed: bool = True) -> None:
        with self.lock:
            item = self.state.items[file_id]
            before = self._feeds(item)
            for m in [item, *self._descendants(item.id)]:
                m.trashed = trashed
            self._bump(item, before)

    def delete(self, file_id: str) -> None:
        """Permanent deletion (emptied from the trash): the file and everything under it."""
        with self.lock:
            item = self.state.items[file_id]
            for m in [item, *self._descendants(item.id)]:
                feeds = self._feeds(m)
                del self.state.items[m.id]
                self._record(m, feeds)

    def report_removed(self, file_id: str, user: str) -> None:
        """A ``removed`` change on ``user``'s feed while the file lives on, as Drive sends when
        one of the user's paths to the file went away (a group left, a parent unshared)."""
        with self.lock:
            self.state.seq += 1
            change = Change(self.state.seq, f"user:{user}", file_id, True, self._now())
            self.state.changes.append(change)

    def expire_page_tokens(self) -> None:
        """Every page token issued so far is refused from now on."""
        with self.lock:
            self.state.min_token = self.state.seq + 1

    # Drive's rules.

    def _descendants(self, folder_id: str) -> list[Item]:
        found: list[Item] = []
        pending = [folder_id]
        while pending:
            parent = pending.pop()
            for item in self.state.items.values():
                if parent in item.parents:
                    found.append(item)
                    pending.append(item.id)
        return found

    def effective(self, item: Item) -> list[tuple[Grant, bool, str | None]]:
        """(grant, inherited, inherited from) of ``item``, own grants first, deduplicated."""
        found: list[tuple[Grant, bool, str | None]] = [(g, False, None) for g in item.grants]
        if item.owner:
            found.insert(0, (_owner_grant(item.owner), False, None))
        cut = item.limited
        node = item
        while not cut and node.parents and node.parents[0] in self.state.items:
            node = self.state.items[node.parents[0]]
            if node.owner:
                # A folder's owner can open everything in it.
                found.append((_owner_grant(node.owner), True, node.id))
            found += [(g, True, node.id) for g in node.grants]
            cut = node.limited
        if item.drive is not None:
            members = self.state.drives[item.drive].members
            for grant in members:
                if not cut or grant.role == "organizer":
                    found.append((grant, True, f"drive:{item.drive}"))
        seen: set[str] = set()
        unique = []
        for entry in found:
            if entry[0].id not in seen:
                seen.add(entry[0].id)
                unique.append(entry)
        return unique

    def _member_of_drive(self, user: str, drive_id: str) -> bool:
        drive = self.state.drives.get(drive_id)
        if drive is None:
            return False
        return user == self.state.admin or any(g.email == user for g in drive.members)

    def can_read(self, user: str, item: Item) -> bool:
        if item.drive is not None:
            return self._member_of_drive(user, item.drive)
        return any(
            g.type == "user" and g.email == user and not g.deleted
            for g, _, _ in self.effective(item)
        )

    def _feeds(self, item: Item) -> set[str]:
        if item.drive is not None:
            return {f"drive:{item.drive}"}
        return {f"user:{u}" for u in self.state.users if self.can_read(u, item)}

    def _bump(self, item: Item, before: set[str]) -> None:
        item.version += 1
        self._record(item, before)

    def _record(self, item: Item, before: set[str]) -> None:
        alive = item.id in self.state.items
        after = self._feeds(item) if alive else set()
        at = self._now()
        for feed in sorted(after | before):
            self.state.seq += 1
            removed = feed not in after
            self.state.changes.append(Change(self.state.seq, feed, item.id, removed, at))

    def file_resource(self, item: Item) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "drive#file",
            "id": item.id,
            "name": item.name,
            "mimeType": item.mime,
            "parents": list(item.parents),
            "trashed": item.trashed,
            "createdTime": stamp(item.created),
            "modifiedTime": stamp(item.modified),
            "version": str(item.version),
            "webViewLink": f"https://drive.google.com/file/d/{item.id}/view",
            "inheritedPermissionsDisabled": item.limited,
        }
        if item.drive is not None:
            body["driveId"] = item.drive
        if item.owner is not None:
            body["owners"] = [{"kind": "drive#user", "emailAddress": item.owner}]
        if not item.mime.startswith("application/vnd.google-apps."):
            body["size"] = str(len(item.content))
            body["md5Checksum"] = hashlib.md5(item.content).hexdigest()
        if item.resource_key:
            body["resourceKey"] = item.resource_key
        if item.target is not None:
            details: dict[str, Any] = {"targetId": item.target}
            if item.target_mime:
                details["targetMimeType"] = item.target_mime
            target = self.state.items.get(item.target)
            if target is not None and target.resource_key:
                details["targetResourceKey"] = target.resource_key
            body["shortcutDetails"] = details
        return body

    def _key_missing(self, request: ApiRequest, caller: str, item: Item) -> bool:
        if not item.key_required or caller == item.owner:
            return False
        sent = request.headers.get("x-goog-drive-resource-keys", "")
        pairs = {p.strip() for p in sent.split(",")}
        return f"{item.id}/{item.resource_key}" not in pairs

    # Handlers.

    def _caller(self, request: ApiRequest) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self.check_token(token.strip()):
            return None
        return subject_of(token.strip(), self.tokens)

    def drives_list(self, request: ApiRequest) -> ApiResponse:
        caller = self._caller(request)
        if caller is None:
            return unauthenticated()
        admin = request.query.get("useDomainAdminAccess") == "true"
        if admin and caller != self.state.admin:
            return google_error(403, "insufficientFilePermissions", "Not a domain admin")
        drives = [
            d
            for d in sorted(self.state.drives.values(), key=lambda d: d.id)
            if admin or self._member_of_drive(caller, d.id)
        ]
        page, token = _page(drives, request, default=10, largest=100)
        body: dict[str, Any] = {
            "kind": "drive#driveList",
            "drives": [{"kind": "drive#drive", "id": d.id, "name": d.name} for d in page],
        }
        if token:
            body["nextPageToken"] = token
        return ApiResponse(body=body)

    def drives_get(self, request: ApiRequest) -> ApiResponse:
        caller = self._caller(request)
        if caller is None:
            return unauthenticated()
        drive_id = request.path.rsplit("/", 1)[1]
        drive = self.state.drives.get(drive_id)
        if drive is None or not self._member_of_drive(caller, drive_id):
            return google_error(404, "notFound", f"Shared drive not found: {drive_id}")
        return ApiResponse(body={"kind": "drive#drive", "id": drive.id, "name": drive.name})

    def start_page_token(self, request: ApiRequest) -> ApiResponse:
        caller = self._caller(request)
        if caller is None:
            return unauthenticated()
        drive_id = request.query.get("driveId")
        if drive_id and not self._member_of_drive(caller, drive_id):
            return google_error(404, "notFound", f"Shared drive not found: {drive_id}")
        token = str(self.state.seq + 1)
        return ApiResponse(body={"kind": "drive#startPageToken", "startPageToken": token})

    def changes_list(self, request: ApiRequest) -> ApiResponse:
        caller = self._caller(request)
        if caller is None:
            return unauthenticated()
        raw = request.query.get("pageToken", "")
        if not raw.isdigit() or int(raw) < self.state.min_token:
            return google_error(400, "invalid", "Invalid Value")
        drive_id = request.query.get("driveId")
        if drive_id and not self._member_of_drive(caller, drive_id):
            return google_error(404, "notFound", f"Shared drive not found: {drive_id}")
        feed = f"drive:{drive_id}" if drive_id else f"user:{caller}"
        latest: dict[str, Change] = {}
        for change in self.state.changes:
            if change.seq >= int(raw) and change.feed == feed:
                latest[change.file_id] = change
        entries = sorted(latest.values(), key=lambda c: c.seq)
        size = min(int(request.query.get("pageSize", "100")), 1000)
        body: dict[str, Any] = {"kind": "drive#changeList", "changes": []}
        for change in entries[:size]:
            entry: dict[str, Any] = {
                "kind": "drive#change",
                "changeType": "file",
                "time": stamp(change.at),
                "fileId": change.file_id,
                "removed": change.removed,
            }
            item = self.state.items.get(change.file_id)
            if drive_id:
                entry["driveId"] = drive_id
            if item is None:
                entry["removed"] = True
            elif not change.removed:
                entry["file"] = self.file_resource(item)
            body["changes"].append(entry)
        if len(entries) > size:
            body["nextPageToken"] = str(entries[size].seq)
        else:
            body["newStartPageToken"] = str(self.state.seq + 1)
        return ApiResponse(body=body)

    def files_list(self, request: ApiRequest) -> ApiResponse:
        caller = self._caller(request)
        if caller is None:
            return unauthenticated()
        conditions = _conditions(request.query.get("q", ""))
        if conditions is None:
            return google_error(400, "invalid", "Invalid Value")
        drive_id = request.query.get("driveId")
        if request.query.get("corpora") == "drive":
            if not drive_id or not self._member_of_drive(caller, drive_id):
                return google_error(404, "notFound", f"Shared drive not found: {drive_id}")
            pool = [i for i in self.state.items.values() if i.drive == drive_id]
        else:
            all_drives = request.query.get("includeItemsFromAllDrives") == "true"
            pool = [
                i
                for i in self.state.items.values()
                if (all_drives or i.drive is None) and self.can_read(caller, i)
            ]
        matching = [i for i in sorted(pool, key=lambda i: i.id) if _matches(i, conditions)]
        page, token = _page(matching, request, default=100, largest=1000)
        body: dict[str, Any] = {
            "kind": "drive#fileList",
            "incompleteSearch": False,
            "files": [self.file_resource(i) for i in page],
        }
        if token:
            body["nextPageToken"] = token
        return ApiResponse(body=body)

    def _readable(self, request: ApiRequest, file_id: str) -> Item | ApiResponse:
        caller = self._caller(request)
        if caller is None:
            return unauthenticated()
        item = self.state.items.get(file_id)
        if (
            item is None
            or not self.can_read(caller, item)
            or self._key_missing(request, caller, item)
        ):
            return google_error(404, "notFound", f"File not found: {file_id}.")
        return item

    def files_get(self, request: ApiRequest) -> ApiResponse:
        found = self._readable(request, request.path.rsplit("/", 1)[1])
        if isinstance(found, ApiResponse):
            return found
        if request.query.get("alt") == "media":
            if found.mime.startswith("application/vnd.google-apps."):
                return google_error(403, "fileNotDownloadable", "Use export for this file")
            return ApiResponse(raw=found.content, headers={"content-type": found.mime})
        return ApiResponse(body=self.file_resource(found))

    def files_export(self, request: ApiRequest) -> ApiResponse:
        found = self._readable(request, request.path.split("/")[-2])
        if isinstance(found, ApiResponse):
            return found
        wanted = request.query.get("mimeType", "")
        if wanted not in _EXPORTS.get(found.mime, ()):
            return google_error(400, "badRequest", f"Export to {wanted} is not supported")
        if wanted == XLSX:
            return ApiResponse(raw=workbook_of(found), headers={"content-type": wanted})
        # CSV holds the first sheet only, as Drive exports it.
        return ApiResponse(raw=found.content, headers={"content-type": wanted})

    def permissions_list(self, request: ApiRequest) -> ApiResponse:
        caller = self._caller(request)
        if caller is None:
            return unauthenticated()
        file_id = request.path.split("/")[-2]
        item = self.state.items.get(file_id)
        admin = request.query.get("useDomainAdminAccess") == "true"
        if item is None or not (
            self.can_read(caller, item) or (admin and caller == self.state.admin)
        ):
            return google_error(404, "notFound", f"File not found: {file_id}.")
        if self._key_missing(request, caller, item):
            return google_error(404, "notFound", f"File not found: {file_id}.")
        if item.permissions_hidden and caller != item.owner:
            return google_error(403, "insufficientFilePermissions", "Insufficient permissions")
        grants = [
            g.resource(inherited, source, item.drive is not None)
            for g, inherited, source in self.effective(item)
        ]
        page, token = _page(grants, request, default=100, largest=100)
        body: dict[str, Any] = {"kind": "drive#permissionList", "permissions": page}
        if token:
            body["nextPageToken"] = token
        return ApiResponse(body=body)


def workbook_of(item: Item) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    sheets = item.sheets or {"Sheet1": item.content.decode("utf-8")}
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in csv.reader(io.StringIO(rows)):
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _owner_grant(email: str) -> Grant:
    return Grant(id=f"owner-{email}", type="user", role="owner", email=email)


def _kind(member: str) -> tuple[str, str]:
    return ("group", member[6:]) if member.startswith("group:") else ("user", member)


def _page(
    items: list[Any], request: ApiRequest, *, default: int, largest: int
) -> tuple[list[Any], str | None]:
    start = int(request.query.get("pageToken") or 0)
    size = min(int(request.query.get("pageSize") or default), largest)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _conditions(q: str) -> list[tuple[str, str]] | None:
    """``trashed=false`` and ``'<id>' in parents``, joined by ``and``: what the connector asks."""
    found: list[tuple[str, str]] = []
    for part in (p.strip() for p in q.split(" and ")) if q.strip() else ():
        compact = part.replace(" ", "")
        if compact in ("trashed=false", "trashed=true"):
            found.append(("trashed", compact.split("=")[1]))
        elif part.endswith(" in parents") and part.startswith("'"):
            found.append(("parent", part[1 : part.index("'", 1)]))
        else:
            return None
    return found


def _matches(item: Item, conditions: list[tuple[str, str]]) -> bool:
    for kind, value in conditions:
        if kind == "trashed" and item.trashed != (value == "true"):
            return False
        if kind == "parent" and value not in item.parents:
            return False
    return True


def google_error(status: int, reason: str, message: str, domain: str = "global") -> ApiResponse:
    return ApiResponse(
        status,
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"domain": domain, "reason": reason, "message": message}],
            }
        },
    )


def unauthenticated() -> ApiResponse:
    return google_error(401, "authError", "Invalid Credentials")
