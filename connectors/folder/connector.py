"""``FolderConnector``: a directory tree as a permission-aware source without a change feed.

Every run walks the tree and compares each file with what the index holds (``SyncContext``): a
file whose version (mtime, size and the settings that shape its document) the index already has
is not read again, but its current effective ACL is still sent, so that any difference from the
index's ACL is applied whatever the previous runs did (a permissions run, a rejected write). New
and modified files are upserted, files the index holds that are gone are deleted; a move is a
delete plus an upsert. ACLs come from ``.permindex-acl.yaml`` sidecars (``sidecar``) and group
memberships from the root's ``.permindex-groups.yaml`` (``directory_file``); docs/permissions.md
has the full model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError

from connectors.acl_layers import effective_acl
from connectors.contract import EMPTY_INDEX, Capabilities, Connector, SyncContext
from connectors.directory import GroupMembership, IdentityMapping
from connectors.documents import Acl, AclLayer, SourceDocument, SourceId
from connectors.errors import (
    ConnectorConfigError,
    PermissionSourceUnreadableError,
    SourceUnavailableError,
)
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
)
from connectors.folder.config import FolderSourceConfig
from connectors.folder.directory_file import Directory, load_directory
from connectors.folder.parsing import ParseError, parse
from connectors.folder.safe_open import read_regular_file
from connectors.folder.tree import FileEntry, UnreadableFolder, walk
from connectors.folder.yaml_files import FolderFileError, describe_validation_error
from connectors.org import OrgPolicy

log = logging.getLogger(__name__)

_SOURCE_ID = TypeAdapter(SourceId)
_NOBODY: Acl = frozenset()
# Part of every version string: bump when parsing changes, so every file is read again once.
_VERSION_FORMAT = "folder/2"
CHECKPOINT_FORMAT = "folder-checkpoint/2"
_VERSION_BATCH = 256


class FolderConnector(Connector):
    capabilities = Capabilities(
        incremental=True,
        listing=True,
        permissions_refresh=True,
        groups=True,
        identities=True,
        acls_expand_groups=True,
    )

    def __init__(
        self,
        *,
        source_id: str,
        root: Path,
        org: OrgPolicy,
        clock: Callable[[], datetime],
        doc_type: str = "file",
        base_url: str | None = None,
        max_file_bytes: int = 20_000_000,
        checkpoint_every: int = 5000,
    ) -> None:
        try:
            self.source_id = _SOURCE_ID.validate_python(source_id)
        except ValidationError as exc:
            raise ConnectorConfigError(f"folder source {source_id!r}: {exc}") from exc
        self._root = Path(root).absolute()
        self._org = org
        self._clock = clock
        self._doc_type = doc_type
        self._base_url = base_url.rstrip("/") if base_url else None
        self._max_file_bytes = max_file_bytes
        self._checkpoint_every = checkpoint_every

    # -- contract -------------------------------------------------------------------------

    def validate(self) -> None:
        # The groups file is not checked here: a broken one must not stop the runs that apply
        # deletions and narrowings (it hides what depends on it instead).
        if not self._root.is_dir():
            raise ConnectorConfigError(
                f"folder source {self.source_id!r}: {self._root} is not a folder"
            )
        if not os.access(self._root, os.R_OK | os.X_OK):
            raise ConnectorConfigError(
                f"folder source {self.source_id!r}: {self._root} is not readable"
            )

    def changes(
        self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        resolve = _AclResolver(*self._directory(), self._org)
        seen: set[str] = set()
        unreadable: list[str] = []
        since_checkpoint = 0
        for batch in self._batches(unreadable):
            versions = {} if context.full else context.indexed_versions([f.relpath for f in batch])
            for item in batch:
                seen.add(item.relpath)
                yield from self._visit(item, versions.get(item.relpath), resolve)
                since_checkpoint += 1
                if self._checkpoint_every and since_checkpoint >= self._checkpoint_every:
                    # Nothing in the checkpoint drives the next run (the index does), so a
                    # resumed run redoes the walk cheaply; this one lets the runner save progress.
                    since_checkpoint = 0
                    yield CheckpointReached(checkpoint=self._checkpoint())
        for external_id in sorted(set(context.indexed_ids()) - seen):
            folder = next((f for f in unreadable if _below(external_id, f)), None)
            if folder is None:
                if not context.full:  # a full run deletes by its listing, after it completed
                    yield DocumentDeleted(source_id=self.source_id, external_id=external_id)
            else:
                # Absence from an unlistable folder is not deletion, but nothing there is trusted.
                yield self._permissions_changed(external_id, _NOBODY)
                yield self._document_failed(external_id, f"folder {folder!r} cannot be listed")
        yield CheckpointReached(checkpoint=self._checkpoint())

    def list_live_ids(self) -> Iterator[ListingEvent]:
        incomplete: str | None = None
        for item in walk(self._root, source=self.source_id, tenant=self._org.tenant):
            if isinstance(item, UnreadableFolder):
                incomplete = incomplete or f"folder {item.relpath or '.'!r}: {item.reason}"
                continue
            yield LiveId(external_id=item.relpath)
        yield ListingEnd(completed=incomplete is None, reason=incomplete)

    def permissions(
        self, checkpoint: Checkpoint | None = None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[PermissionsEvent]:
        # One scope, and walking it again is cheap: a stopped run simply starts over.
        resolve = _AclResolver(*self._directory(), self._org)
        seen: set[str] = set()
        for item in self._walk():
            if isinstance(item, UnreadableFolder):
                seen.add(item.relpath + "/")  # what it held is hidden by the incremental run
                continue
            seen.add(item.relpath)
            acl, error = resolve.acl_of(item)
            yield self._permissions_changed(
                item.relpath, acl, item.rules.labels if error is None else ()
            )
        # Gone from disk since the last incremental run, still in the index: its old ACL may
        # name a group this run's memberships widen. Nobody sees it until that run deletes it.
        unreadable = [folder for folder in seen if folder.endswith("/")]
        for external_id in context.indexed_ids():
            if external_id not in seen and not any(
                folder == "/" or external_id.startswith(folder) for folder in unreadable
            ):
                yield self._permissions_changed(external_id, _NOBODY)

    def groups(self) -> Iterator[GroupMembership]:
        yield from self._readable_directory().memberships()

    def identities(self) -> Iterator[IdentityMapping]:
        yield from self._readable_directory().mappings()

    # -- internals ------------------------------------------------------------------------

    def _directory(self) -> tuple[Directory, str | None]:
        """The groups and identities, or none and the reason they cannot be read."""
        try:
            return load_directory(self._root, source=self.source_id, tenant=self._org.tenant), None
        except FolderFileError as exc:
            log.warning("folder source %s: %s", self.source_id, exc)
            return Directory(), str(exc)

    def _readable_directory(self) -> Directory:
        directory, error = self._directory()
        if error is not None:
            raise PermissionSourceUnreadableError(f"folder source {self.source_id!r}: {error}")
        return directory

    def _walk(self) -> Iterator[FileEntry | UnreadableFolder]:
        for item in walk(self._root, source=self.source_id, tenant=self._org.tenant):
            if isinstance(item, UnreadableFolder) and item.relpath == "":
                raise SourceUnavailableError(
                    f"folder source {self.source_id!r}: cannot list {self._root}: {item.reason}"
                )
            yield item

    def _batches(self, unreadable: list[str]) -> Iterator[list[FileEntry]]:
        """Files in walk order, a few hundred at a time (one version look-up per batch);
        unlistable folders are noted in ``unreadable``."""
        batch: list[FileEntry] = []
        for item in self._walk():
            if isinstance(item, UnreadableFolder):
                unreadable.append(item.relpath)
                continue
            batch.append(item)
            if len(batch) >= _VERSION_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def _visit(
        self, file: FileEntry, indexed_version: str | None, resolve: _AclResolver
    ) -> list[ChangeEvent]:
        acl, error = resolve.acl_of(file)
        if error is not None:
            # The ACL is unknown: never index under a guess, and hide what was indexed before.
            return self._failed(file.relpath, _NOBODY, error)
        doc_type = file.rules.doc_type or self._doc_type
        url = self._url(file)
        try:
            stat = file.path.stat(follow_symlinks=False)
        except OSError as exc:
            return self._failed(file.relpath, acl, f"cannot stat: {exc}")
        if indexed_version == _version(stat, doc_type, url):
            return [self._permissions_changed(file.relpath, acl, file.rules.labels)]
        try:
            document = self._document(file, acl, doc_type, url)
        except _Skip as exc:
            return self._failed(file.relpath, acl, str(exc))
        return [DocumentUpserted(document=document)]

    def _document(self, file: FileEntry, acl: Acl, doc_type: str, url: str) -> SourceDocument:
        try:
            # Opened without following links, and checked to be a regular file below the root:
            # the file may have been swapped for a link since the walk listed it.
            data, stat = read_regular_file(self._root, file.relpath, self._max_file_bytes)
        except OSError as exc:
            raise _Skip(f"cannot read: {exc}") from exc
        if len(data) > self._max_file_bytes:
            raise _Skip(f"file is over the {self._max_file_bytes}-byte limit")
        try:
            parsed = parse(file.path.suffix.lower(), data)
        except ParseError as exc:
            raise _Skip(str(exc)) from exc
        try:
            return SourceDocument(
                source_id=self.source_id,
                external_id=file.relpath,
                title=parsed.title or file.path.stem,
                body=parsed.body,
                url=url,
                author=parsed.author,
                updated_at=datetime.fromtimestamp(stat.st_mtime_ns / 1e9, UTC),
                content_type=parsed.content_type,
                doc_type=doc_type,
                breadcrumbs=file.folder,
                metadata=parsed.metadata,
                # The version of what was read, not of what the walk saw before.
                version=_version(stat, doc_type, url),
                acl=acl,
                acl_layers=file.rules.labels,
            )
        except ValidationError as exc:
            raise _Skip(f"invalid document: {describe_validation_error(exc)}") from exc

    def _failed(self, relpath: str, acl: Acl, reason: str) -> list[ChangeEvent]:
        """Record a failure. A failure is not a deletion: an indexed copy stays, but under the
        current ACL (or nobody, when the ACL is unknown), never under a wider old one."""
        return [self._permissions_changed(relpath, acl), self._document_failed(relpath, reason)]

    def _document_failed(self, relpath: str, reason: str) -> DocumentFailed:
        return DocumentFailed(source_id=self.source_id, external_id=relpath, reason=reason)

    def _permissions_changed(
        self, relpath: str, acl: Acl, layers: tuple[AclLayer, ...] = ()
    ) -> PermissionsChanged:
        return PermissionsChanged(
            source_id=self.source_id, external_id=relpath, acl=acl, acl_layers=layers
        )

    def _checkpoint(self) -> Checkpoint:
        return Checkpoint(
            value={"format": CHECKPOINT_FORMAT, "taken_at": self._clock().isoformat()}
        )

    def _url(self, file: FileEntry) -> str:
        if self._base_url:
            return f"{self._base_url}/{quote(file.relpath)}"
        return file.path.as_uri()


def _version(stat: os.stat_result, doc_type: str, url: str) -> str:
    parts = (_VERSION_FORMAT, str(stat.st_mtime_ns), str(stat.st_size), doc_type, url)
    return "|".join(parts)


def _below(external_id: str, folder: str) -> bool:
    return folder == "" or external_id.startswith(f"{folder}/")


class _Skip(Exception):
    """This one file cannot become a document; the message is the recorded reason."""


class _AclResolver:
    """Effective ACLs of layer stacks, cached: most files share their folder's stack."""

    def __init__(self, directory: Directory, directory_error: str | None, org: OrgPolicy) -> None:
        self._directory = directory
        self._directory_error = directory_error
        self._org = org
        self._cache: dict[tuple[Acl, ...], Acl] = {}

    def acl_of(self, file: FileEntry) -> tuple[Acl, str | None]:
        """The file's effective ACL, or nobody and why its ACL cannot be known."""
        if file.rules.error is not None:
            return _NOBODY, file.rules.error
        layers = file.rules.layers
        if len(layers) > 1 and self._directory_error is not None:
            # Intersecting layers needs the members of their groups; without them, nobody.
            return _NOBODY, f"its ACL needs group memberships: {self._directory_error}"
        return self._effective(layers), None

    def _effective(self, layers: Sequence[Acl]) -> Acl:
        key = tuple(layers)
        if key not in self._cache:
            self._cache[key] = effective_acl(list(key), self._directory.members_of, self._org)
        return self._cache[key]


def from_config(
    config: FolderSourceConfig, org: OrgPolicy, clock: Callable[[], datetime] | None = None
) -> FolderConnector:
    """Build the connector for the composition root; the clock defaults to UTC wall time."""
    return FolderConnector(
        source_id=config.id,
        root=config.path,
        org=org,
        clock=clock or (lambda: datetime.now(UTC)),
        doc_type=config.doc_type,
        base_url=config.base_url,
        max_file_bytes=config.max_file_bytes,
        checkpoint_every=config.checkpoint_every,
    )
