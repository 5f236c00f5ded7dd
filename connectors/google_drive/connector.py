"""Google Drive: shared drives and My Drives, incremental from the Changes API.

Each scope (a shared drive, a user's My Drive) keeps its own Changes API page token in the
checkpoint; the checkpoint is emitted after each page of changes, so the runner saves a token
only once the writes for that page are durable. A scope without a token (new, or a full run)
is listed, with its start token taken before the listing so nothing between is missed. A
token Drive refuses falls back to listing that scope, deleting what the listing no longer has.

Changes carry edits, moves, trash, untrash, permanent deletion and sharing changes alike; every
changed file's permissions are read again (permissions.list, paged), so a sharing change
reaches the index on the next incremental run. A changed folder re-resolves its descendants:
Drive does not send a change for each child whose inherited grants moved.

A shortcut whose target no listed scope indexes stands for the target: the target's content
with the target's grants (the shortcut's own grants open the shortcut, never the target). Such
shortcuts are kept in the checkpoint and re-resolved on every incremental run, since no feed
the connector follows carries the target's changes.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from connectors.contract import EMPTY_INDEX, Capabilities, Connector, SyncContext
from connectors.directory import GroupMembership
from connectors.documents import SourceDocument
from connectors.errors import ConnectorConfigError, PermissionSourceUnreadableError
from connectors.events import (
    ChangeEvent,
    Checkpoint,
    CheckpointReached,
    DocumentDeleted,
    DocumentFailed,
    DocumentUpserted,
    ListingEnd,
    ListingEvent,
    LiveId,
    PermissionsChanged,
    PermissionsEvent,
    ScopeFailed,
)
from connectors.gateway import RequestRejected
from connectors.google_drive.content import UnreadableContent, extract, plan_for
from connectors.google_drive.gateway_directory import DirectoryGateway
from connectors.google_drive.gateway_drive import DriveGateway, InvalidPageToken
from connectors.google_drive.grants import (
    Grants,
    domain_principal,
    grants_of,
    group_principal,
    no_grants,
)
from connectors.google_drive.models import DriveFile
from connectors.google_drive.scopes import Scope, scope_name_of
from connectors.org import OrgPolicy, members_group
from connectors.principals import InvalidPrincipalError, normalise_email, user

log = logging.getLogger("permindex.connectors.google_drive")

_NOT_TRASHED = "trashed=false"


class GoogleDriveConnector(Connector):
    def __init__(
        self,
        *,
        source_id: str,
        drive: DriveGateway,
        directory: DirectoryGateway | None,
        admin_email: str,
        org: OrgPolicy,
        clock: Callable[[], datetime],
        include_shared_drives: bool = True,
        include_my_drives: bool = True,
        max_file_bytes: int = 20_000_000,
        max_export_bytes: int = 10_000_000,
    ) -> None:
        self.source_id = source_id
        self._drive = drive
        self._directory = directory
        self._admin = normalise_email(admin_email)
        self._org = org
        self._clock = clock
        self._include_drives = include_shared_drives
        self._include_users = include_my_drives
        self._max_file_bytes = max_file_bytes
        self._max_export_bytes = max_export_bytes
        # Without the Directory, group memberships are unknown: group grants admit nobody.
        self.capabilities = Capabilities(
            incremental=True,
            listing=True,
            permissions_refresh=True,
            groups=directory is not None,
            identities=False,
        )
        self._tenant_users: frozenset[str] | None = None
        self._listed_drives: frozenset[str] = frozenset()
        # External ids of shortcuts indexed as their target (or failed closed), re-resolved
        # on each incremental run.
        self._shortcuts: set[str] = set()
        # A scope run's one scope (``for_scope``); None: every scope, as one run.
        self._only: str | None = None
        # Descendants of a changed folder that a scope run left to their own scope.
        self._left_to_other_scopes = 0
        # The listing ``validate`` made at the start of a run, for the run's stream to use
        # (once): every run, and every scope run, would otherwise list drives and users twice.
        self._validated: list[Scope] | None = None

    # Scopes as units of work (schedules.scopes.ScopedSource).

    def work_scopes(self) -> list[str]:
        """Shared drives by id, then users' My Drives by email: one listing of each."""
        return [scope.name for scope in self._scopes()]

    def for_scope(self, scope: str) -> GoogleDriveConnector:
        """This source restricted to one shared drive or one user's My Drive: its changes
        feed and page token, its listing and its permissions, never another scope's files."""
        kind, _, key = scope.partition("/")
        wanted = {"drive": self._include_drives, "user": self._include_users}
        if not wanted.get(kind) or not key or (kind == "drive" and "/" in key):
            raise ValueError(f"source {self.source_id!r} has no scope {scope!r}")
        scoped = copy.copy(self)
        scoped._drive = self._drive.fork()
        scoped._directory = self._directory.fork() if self._directory is not None else None
        scoped._only = scope
        scoped._shortcuts = set()
        scoped._tenant_users = None
        scoped._listed_drives = frozenset()
        scoped._left_to_other_scopes = 0
        scoped._validated = None
        return scoped

    def run_notes(self) -> dict[str, int]:
        if self._only is None:
            return {}
        return {"left_to_other_scopes": self._left_to_other_scopes}

    # The contract.

    def scope_of(self, external_id: str) -> str:
        return scope_name_of(external_id)

    def validate(self) -> None:
        try:
            self._validated = None
            self._validated = self._scopes()
        except RequestRejected as exc:
            raise ConnectorConfigError(f"Google Drive refused the configuration: {exc}") from exc

    def changes(
        self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        self._use_stop(context.stop)
        tokens: dict[str, str] = dict(checkpoint.value.get("tokens", {})) if checkpoint else {}
        self._shortcuts = set(checkpoint.value.get("shortcuts", [])) if checkpoint else set()
        if self._only is not None:
            # A scope run reads and writes its own page token and shortcuts, whatever else a
            # checkpoint handed to it holds: the other scopes' are their own runs'.
            tokens = {name: token for name, token in tokens.items() if name == self._only}
            self._shortcuts = {i for i in self._shortcuts if scope_name_of(i) == self._only}
        scopes = self._run_scopes()
        current = {scope.name for scope in scopes}
        # Before the feeds: a shortcut trashed in this run is deleted after its re-resolution.
        yield from self._recheck_shortcuts({scope.name: scope for scope in scopes}, context)
        forgotten = set(tokens) - current
        if self._only is not None and self._only not in current:
            forgotten.add(self._only)  # gone since the run was planned, token or not
        for name in sorted(forgotten):
            try:
                gone = yield from self._forget_scope(name, context)
            except RequestRejected as exc:
                yield ScopeFailed(scope=name, reason=str(exc))
                continue
            if gone:
                tokens.pop(name, None)
                yield self._checkpoint(tokens)
        for scope in scopes:
            try:
                token = tokens.get(scope.name)
                if token is None:
                    tokens[scope.name] = yield from self._list_scope(scope, context, prune=False)
                    yield self._checkpoint(tokens)
                    continue
                try:
                    for page_token, events in self._follow(scope, token, context):
                        yield from events
                        tokens[scope.name] = page_token
                        yield self._checkpoint(tokens)
                except InvalidPageToken as exc:
                    log.warning(
                        "page token refused, listing the scope instead",
                        extra={"source": self.source_id, "scope": scope.name, "error": str(exc)},
                    )
                    tokens[scope.name] = yield from self._list_scope(scope, context, prune=True)
                    yield self._checkpoint(tokens)
            except RequestRejected as exc:
                yield ScopeFailed(scope=scope.name, reason=str(exc))
        yield self._checkpoint(tokens)

    def list_live_ids(self) -> Iterator[ListingEvent]:
        scopes = self._run_scopes()
        if self._only is not None and not scopes:
            # An unlisted scope's listing is empty (its documents are pruned) only when it is
            # gone; one hidden from the admin's listing is kept, as ``changes`` keeps it.
            kind, _, key = self._only.partition("/")
            try:
                if kind == "drive" and self._drive.drive_exists(self._admin, key):
                    yield ScopeFailed(scope=self._only, reason="shared drive no longer listed")
            except RequestRejected as exc:
                yield ScopeFailed(scope=self._only, reason=str(exc))
        for scope in scopes:
            try:
                ids = [
                    scope.external_id(f.id)
                    for page in self._drive.file_pages(scope.subject, scope.drive_id, _NOT_TRASHED)
                    for f in page
                    if self._indexable(scope, f)
                ]
            except RequestRejected as exc:
                yield ScopeFailed(scope=scope.name, reason=str(exc))
                continue
            yield from (LiveId(external_id=i) for i in ids)
        yield ListingEnd(completed=True)

    def permissions(
        self, checkpoint: Checkpoint | None = None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[PermissionsEvent]:
        self._use_stop(context.stop)
        done = list(checkpoint.value.get("done", [])) if checkpoint else []
        if self._only is not None:
            done = [name for name in done if name == self._only]
        scopes = self._run_scopes()
        if self._only is not None and not scopes and self._only not in done:
            yield from self._hide_gone_scope(self._only, context)
        for scope in scopes:
            if scope.name in done:
                continue
            try:
                for page in self._drive.file_pages(scope.subject, scope.drive_id, _NOT_TRASHED):
                    for f in page:
                        if not self._indexable(scope, f):
                            continue
                        if f.is_shortcut:
                            target, why = self._resolve(scope, f)
                            if target is None and why is None:
                                continue  # its target is indexed where it lives
                            if target is None:
                                grants = _nobody(f.id, why or "")
                            else:
                                grants = _via_shortcut(self._acl(scope, target)[0], f)
                            yield self._permissions_event(scope, f, grants)
                            continue
                        yield self._permissions_event(scope, f, self._acl(scope, f)[0])
            except RequestRejected as exc:
                yield ScopeFailed(scope=scope.name, reason=str(exc))
                continue
            done.append(scope.name)
            yield CheckpointReached(checkpoint=Checkpoint(value={"done": list(done)}))
        yield CheckpointReached(checkpoint=Checkpoint(value={"done": []}))

    def groups(self) -> Iterator[GroupMembership]:
        if self._directory is None:
            raise NotImplementedError("OAuth user credentials give no Directory access")
        try:
            yield from self._memberships(self._directory)
        except RequestRejected as exc:
            raise PermissionSourceUnreadableError(f"Directory refused: {exc}") from exc

    # Scopes.

    def _run_scopes(self) -> list[Scope]:
        """The scopes this run covers. A scope run lists every drive and user all the same:
        where a file is indexed (``_in_scope``, ``_indexed_elsewhere``) depends on them."""
        scopes = self._scopes()
        if self._only is None:
            return scopes
        return [scope for scope in scopes if scope.name == self._only]

    def _scopes(self) -> list[Scope]:
        if self._validated is not None:
            scopes, self._validated = self._validated, None
            return scopes
        scopes = []
        if self._include_drives:
            drives = self._drive.shared_drives(self._admin)
            ordered = sorted(drives, key=lambda d: d.id)
            self._listed_drives = frozenset(d.id for d in ordered)
            scopes += [Scope("drive", d.id, self._admin) for d in ordered]
        if self._include_users:
            users = sorted(self._users())
            self._tenant_users = frozenset(users)
            scopes += [Scope("user", email, email) for email in users]
        return scopes

    def _users(self) -> set[str]:
        if self._directory is None:
            return {self._admin}
        found: set[str] = set()
        for account in self._directory.users():
            if account.suspended or account.archived:
                continue
            try:
                found.add(normalise_email(account.primary_email))
            except InvalidPrincipalError:
                continue
        return found

    def _forget_scope(self, name: str, context: SyncContext) -> Generator[ChangeEvent, None, bool]:
        """Delete what the index holds of a scope no longer listed; return whether it is gone."""
        kind, _, key = name.partition("/")
        if kind == "drive" and self._drive.drive_exists(self._admin, key):
            # Listed no longer but still there (hidden from the admin's listing): keep it.
            return False
        for external_id in list(context.indexed_ids()):
            if scope_name_of(external_id) == name:
                yield DocumentDeleted(source_id=self.source_id, external_id=external_id)
        return True

    def _hide_gone_scope(self, name: str, context: SyncContext) -> Iterator[PermissionsEvent]:
        """A scope run's permissions of a scope no longer listed: when it is gone, its documents
        admit nobody until a full or prune run of it deletes them; a hidden drive's are kept."""
        kind, _, key = name.partition("/")
        try:
            if kind == "drive" and self._drive.drive_exists(self._admin, key):
                yield ScopeFailed(scope=name, reason="shared drive no longer listed")
                return
        except RequestRejected as exc:
            yield ScopeFailed(scope=name, reason=str(exc))
            return
        for external_id in list(context.indexed_ids()):
            if scope_name_of(external_id) == name:
                file_id = external_id.rsplit("/", 1)[1]
                yield self._permissions_event_of(external_id, _nobody(file_id, f"{name} is gone"))

    def _checkpoint(self, tokens: dict[str, str]) -> CheckpointReached:
        value = {"tokens": dict(tokens), "shortcuts": sorted(self._shortcuts)}
        return CheckpointReached(checkpoint=Checkpoint(value=value))

    # Listing and following a scope.

    def _list_scope(
        self, scope: Scope, context: SyncContext, *, prune: bool
    ) -> Generator[ChangeEvent, None, str]:
        """Every file of ``scope``; returns the start token taken before the listing."""
        start = self._drive.start_page_token(scope.subject, scope.drive_id)
        seen: set[str] = set()
        for page in self._drive.file_pages(scope.subject, scope.drive_id, _NOT_TRASHED):
            files = [f for f in page if self._indexable(scope, f)]
            seen.update(scope.external_id(f.id) for f in files)
            yield from self._documents(scope, files, context)
        if prune:
            for external_id in list(context.indexed_ids()):
                if scope_name_of(external_id) == scope.name and external_id not in seen:
                    yield DocumentDeleted(source_id=self.source_id, external_id=external_id)
        return start

    def _follow(
        self, scope: Scope, token: str, context: SyncContext
    ) -> Iterator[tuple[str, list[ChangeEvent]]]:
        for page in self._drive.change_pages(scope.subject, token, scope.drive_id):
            events = list(self._apply(scope, page.changes, context))
            next_token = page.next_page_token or page.new_start_page_token
            if not next_token:
                raise InvalidPageToken("changes.list page without a next or new start token")
            yield next_token, events

    def _apply(
        self, scope: Scope, changes: Iterable[Any], context: SyncContext
    ) -> Iterator[ChangeEvent]:
        to_index: dict[str, DriveFile] = {}
        for change in changes:
            if change.change_type == "drive":
                continue  # drives come and go through drives.list, diffed on every run
            file_id = change.file_id or (change.file.id if change.file else None)
            if not file_id:
                continue
            file: DriveFile | None = change.file
            if change.removed or file is None:
                if scope.kind == "drive":
                    yield self._deleted(scope, file_id)
                    continue
                # On a user's feed, removed may mean this user lost access, not deletion.
                file = self._drive.file(scope.subject, file_id)
                if file is None:
                    yield self._deleted(scope, file_id)
                    continue
            to_index.pop(file_id, None)
            if not self._in_scope(scope, file):
                yield self._deleted(scope, file_id)  # moved to another drive or owner
                if self._only is not None and file.is_folder and scope.kind == "user":
                    # A scope run writes its own files only, so the folder's owner's run leaves
                    # this user's files under it alone: this user's feed has the folder's change,
                    # and this run re-resolves what the user owns below it.
                    yield from self._descendants(scope, file, context)
            elif file.trashed:
                yield self._deleted(scope, file_id)
                if file.is_folder:
                    yield from self._descendants(scope, file, context)
            elif file.is_folder:
                yield from self._descendants(scope, file, context)
            elif file.is_shortcut or plan_for(file.mime_type) is not None:
                to_index[file_id] = file
        yield from self._documents(scope, list(to_index.values()), context)

    def _descendants(
        self, scope: Scope, folder: DriveFile, context: SyncContext
    ) -> Iterator[ChangeEvent]:
        """Re-resolve everything under ``folder``: its grants or its place may have changed."""
        pending, visited = [folder.id], {folder.id}
        while pending:
            parent = pending.pop()
            query = f"'{parent}' in parents"
            for page in self._drive.file_pages(scope.subject, scope.drive_id, query):
                # A child owned by another user of the tenant is indexed under its owner's
                # scope, whose feed gets no change when this folder's sharing changes.
                live: dict[Scope, list[DriveFile]] = {}
                for child in page:
                    if child.is_folder and child.id not in visited:
                        visited.add(child.id)
                        pending.append(child.id)
                    home = self._home(scope, child)
                    if child.trashed or folder.trashed:
                        yield self._deleted(scope, child.id)
                        if home is not None and home != scope and self._only is None:
                            yield self._deleted(home, child.id)  # indexed under its owner
                        continue
                    if home is not None and home != scope and self._only is not None:
                        # Another scope's document: only that scope's runs write it (its own
                        # feed carries the folder's change, see ``_apply``).
                        self._left_to_other_scopes += 1
                        continue
                    if home is not None and self._indexable(home, child):
                        live.setdefault(home, []).append(child)
                for home, children in live.items():
                    yield from self._documents(home, children, context)

    # Shortcuts.

    def _resolve(self, scope: Scope, shortcut: DriveFile) -> tuple[DriveFile | None, str | None]:
        """What ``shortcut`` stands for: (target, None) to index the target in its place;
        (None, None) when nothing is to be indexed for it (the target is indexed where it lives,
        or has no text); (None, why) when the target cannot be read: fail closed."""
        details = shortcut.shortcut
        if details is None or not details.target_id:
            return None, "shortcut without a target"
        try:
            target = self._drive.file(scope.subject, details.target_id, details.target_resource_key)
        except RequestRejected as exc:
            return None, f"shortcut target unreadable: {exc}"
        if target is None:
            return None, "shortcut target gone or unreadable (HTTP 404)"
        if target.trashed:
            return None, "shortcut target is trashed"
        if target.is_folder or target.is_shortcut or plan_for(target.mime_type) is None:
            return None, None
        if self._indexed_elsewhere(scope, target):
            return None, None
        return target, None

    def _indexed_elsewhere(self, scope: Scope, target: DriveFile) -> bool:
        if target.drive_id:
            return target.drive_id in self._listed_drives
        if not self._include_users:
            return False
        tenant = self._tenant_users or frozenset()
        owner = _email_or_none(target.owner)
        if owner is not None and owner in tenant:
            return True  # under its owner's My Drive
        # Owned outside the tenant: indexed under each user of the tenant who can read it.
        return scope.subject in tenant

    def _recheck_shortcuts(
        self, scopes: dict[str, Scope], context: SyncContext
    ) -> Iterator[ChangeEvent]:
        """Resolve again the shortcuts indexed as their target: the target's edits, sharing
        changes and deletion reach no feed the connector follows."""
        for external_id in sorted(self._shortcuts):
            scope = scopes.get(scope_name_of(external_id))
            if scope is None:
                self._shortcuts.discard(external_id)  # gone with its scope
                continue
            file_id = external_id.rsplit("/", 1)[1]
            try:
                shortcut = self._drive.file(scope.subject, file_id)
            except RequestRejected as exc:
                yield self._permissions_event_of(external_id, _nobody(file_id, str(exc)))
                yield DocumentFailed(
                    source_id=self.source_id, external_id=external_id, reason=str(exc)
                )
                continue
            if shortcut is None or shortcut.trashed or not self._in_scope(scope, shortcut):
                self._shortcuts.discard(external_id)
                yield DocumentDeleted(source_id=self.source_id, external_id=external_id)
                continue
            yield from self._documents(scope, [shortcut], context)

    # Documents.

    def _in_scope(self, scope: Scope, file: DriveFile) -> bool:
        if scope.kind == "drive":
            return file.drive_id == scope.key
        if file.drive_id:
            return False
        owner = _email_or_none(file.owner)
        tenant = self._tenant_users or frozenset()
        # A file owned by a user of the tenant is indexed once, under its owner's scope; a file
        # owned outside the organisation is indexed under each user it is shared with.
        return owner == scope.key or owner is None or owner not in tenant

    def _home(self, scope: Scope, file: DriveFile) -> Scope | None:
        """The scope ``file`` is indexed under, as seen from ``scope``; None: none we read."""
        if self._in_scope(scope, file):
            return scope
        owner = _email_or_none(file.owner)
        if scope.kind == "user" and not file.drive_id and owner in (self._tenant_users or ()):
            assert owner is not None
            return Scope("user", owner, owner)
        return None

    def _indexable(self, scope: Scope, file: DriveFile) -> bool:
        return (
            not file.trashed
            and not file.is_folder
            and (file.is_shortcut or plan_for(file.mime_type) is not None)
            and self._in_scope(scope, file)
        )

    def _deleted(self, scope: Scope, file_id: str) -> DocumentDeleted:
        return DocumentDeleted(source_id=self.source_id, external_id=scope.external_id(file_id))

    def _acl(self, scope: Scope, file: DriveFile) -> tuple[Grants, str | None]:
        """The file's grants, and why they admit nobody when its permissions cannot be read."""
        try:
            permissions = self._drive.permissions(
                scope.subject, file, domain_admin=scope.kind == "drive"
            )
        except RequestRejected as exc:
            why = f"permissions unreadable: {exc}"
            return _nobody(file.id, why), why
        if permissions is None:
            why = "permissions.list: HTTP 404 (gone or no longer readable)"
            return _nobody(file.id, why), why
        grants = grants_of(
            permissions, file, source_id=self.source_id, org=self._org, now=self._clock
        )
        return grants, None

    def _permissions_event(
        self, scope: Scope, file: DriveFile, grants: Grants
    ) -> PermissionsChanged:
        return self._permissions_event_of(scope.external_id(file.id), grants)

    def _permissions_event_of(self, external_id: str, grants: Grants) -> PermissionsChanged:
        return PermissionsChanged(
            source_id=self.source_id,
            external_id=external_id,
            acl=grants.acl,
            acl_layers=grants.layers,
        )

    def _documents(
        self, scope: Scope, files: list[DriveFile], context: SyncContext
    ) -> Iterator[ChangeEvent]:
        if not files:
            return
        ids = [scope.external_id(f.id) for f in files]
        versions = {} if context.full else context.indexed_versions(ids)
        for listed, external_id in zip(files, ids, strict=True):
            file = listed
            if listed.is_shortcut:
                target, why = self._resolve(scope, listed)
                if target is None and why is None:
                    # Its target is indexed where it lives (or has no text): no duplicate.
                    self._shortcuts.discard(external_id)
                    if external_id in context.indexed_versions([external_id]):
                        yield DocumentDeleted(source_id=self.source_id, external_id=external_id)
                    continue
                self._shortcuts.add(external_id)
                if target is None:
                    yield self._permissions_event(scope, listed, _nobody(listed.id, why or ""))
                    yield DocumentFailed(
                        source_id=self.source_id, external_id=external_id, reason=why or ""
                    )
                    continue
                file = target
            grants, unreadable = self._acl(scope, file)
            if listed.is_shortcut:
                grants = _via_shortcut(grants, listed)
            version = version_of(file)
            if unreadable is None and versions.get(external_id) == version:
                yield self._permissions_event(scope, listed, grants)
                continue
            try:
                if unreadable is None:
                    text, problem = self._text(scope, file)
                else:
                    text, problem = None, unreadable
            except RequestRejected as exc:
                text, problem = None, str(exc)
            if text is None:
                # The last good copy stays, never wider than what the file now grants.
                yield self._permissions_event(scope, listed, grants)
                yield DocumentFailed(
                    source_id=self.source_id, external_id=external_id, reason=problem or "no text"
                )
                continue
            document = self._document(scope, file, text, version, grants, external_id)
            yield DocumentUpserted(document=document)

    def _text(self, scope: Scope, file: DriveFile) -> tuple[str | None, str | None]:
        plan = plan_for(file.mime_type)
        if plan is None:
            return None, f"no text in {file.mime_type}"
        if plan.export_as is not None:
            data = self._drive.export(scope.subject, file, plan.export_as)
            limit = self._max_export_bytes
        else:
            if file.size is not None and file.size > self._max_file_bytes:
                return None, f"skipped: {file.size} bytes is over the {self._max_file_bytes} limit"
            data = self._drive.download(scope.subject, file)
            limit = self._max_file_bytes
        if data is None:
            return None, "gone while fetching its content (HTTP 404)"
        if len(data) > limit:
            return None, f"skipped: {len(data)} bytes is over the {limit} limit"
        try:
            return extract(file.mime_type if plan.export_as is None else plan.export_as, data), None
        except UnreadableContent as exc:
            return None, str(exc)

    def _document(
        self,
        scope: Scope,
        file: DriveFile,
        text: str,
        version: str,
        grants: Grants,
        external_id: str,
    ) -> SourceDocument:
        return SourceDocument(
            source_id=self.source_id,
            external_id=external_id,
            title=file.name or file.id,
            body=text,
            url=file.web_view_link,
            author=file.owner,
            created_at=_parse_time(file.created_time),
            updated_at=_parse_time(file.modified_time) or self._clock(),
            content_type="text/plain",
            doc_type="file",
            metadata={"mime_type": file.mime_type, "scope": scope.name, "file_id": file.id},
            version=version,
            acl=grants.acl,
            acl_layers=grants.layers,
        )

    # Groups.

    def _memberships(self, directory: DirectoryGateway) -> Iterator[GroupMembership]:
        users: set[str] = set()
        by_domain: dict[str, set[str]] = {}
        for account in directory.users():
            if account.suspended or account.archived:
                continue
            try:
                principal = user(account.primary_email)
            except InvalidPrincipalError:
                continue
            users.add(principal)
            by_domain.setdefault(principal.rsplit("@", 1)[1], set()).add(principal)
        tenant = members_group(self.source_id)
        # The whole tenant: the Directory's active users; CUSTOMER members point here.
        yield GroupMembership(group=tenant, members=frozenset(users))
        for domain, at_domain in sorted(by_domain.items()):
            yield GroupMembership(
                group=domain_principal(self.source_id, domain), members=frozenset(at_domain)
            )
        for found in directory.groups():
            try:
                principal = group_principal(self.source_id, found.email)
            except InvalidPrincipalError:
                continue
            members: set[str] = set()
            for member in directory.members(found.email):
                if member.status == "SUSPENDED":
                    continue
                try:
                    if member.type == "USER" and member.email:
                        members.add(user(member.email))
                    elif member.type == "GROUP" and member.email:
                        members.add(group_principal(self.source_id, member.email))
                    elif member.type == "CUSTOMER":
                        members.add(tenant)
                except InvalidPrincipalError:
                    continue  # an unreadable member admits nobody
            yield GroupMembership(group=principal, members=frozenset(members))

    def _use_stop(self, stop: threading.Event) -> None:
        self._drive.use_stop(stop)
        if self._directory is not None:
            self._directory.use_stop(stop)


def _nobody(file_id: str, why: str) -> Grants:
    """Fail closed: the empty ACL, and the one layer that says why."""
    return Grants(acl=frozenset(), layers=(no_grants(file_id, why or "unreadable"),))


def _via_shortcut(grants: Grants, shortcut: DriveFile) -> Grants:
    # The target's grants, as the explainer should name them: the shortcut's own open nothing.
    layers = tuple(
        layer.model_copy(
            update={"origin": f"{layer.origin}, target of shortcut {shortcut.id}"[:2048]}
        )
        for layer in grants.layers
    )
    return Grants(acl=grants.acl, layers=layers)


def version_of(file: DriveFile) -> str:
    """What identifies the content: modifiedTime does not move on shares, moves or untrash."""
    parts = [file.modified_time or "", file.md5 or "", str(file.size or "")]
    parts += [file.name, file.mime_type]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:40]


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _email_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return normalise_email(value)
    except InvalidPrincipalError:
        return None
