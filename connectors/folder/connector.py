"""``FolderConnector``: a directory tree as a permission-aware source without a change feed.

Incremental runs diff the tree against the manifest kept in the checkpoint (see ``manifest``):
new or modified files are upserted, vanished ones deleted, files whose effective ACL changed
while their bytes did not get a cheap ``PermissionsChanged``; a move is a delete plus an upsert.
ACLs come from ``.permindex-acl.yaml`` sidecars (``sidecar``) and group memberships from the
root's ``.permindex-groups.yaml`` (``directory_file``); docs/permissions.md has the full model.
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
from connectors.contract import Capabilities, Connector
from connectors.directory import GroupMembership, IdentityMapping
from connectors.documents import Acl, SourceDocument, SourceId
from connectors.errors import ConnectorConfigError, SourceUnavailableError
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
)
from connectors.folder import manifest
from connectors.folder.config import FolderSourceConfig
from connectors.folder.directory_file import Directory, load_directory
from connectors.folder.manifest import Entry
from connectors.folder.parsing import ParseError, parse
from connectors.folder.tree import FileEntry, UnreadableFolder, walk
from connectors.folder.yaml_files import FolderFileError, describe_validation_error
from connectors.principals import InvalidPrincipalError, org

log = logging.getLogger(__name__)

_SOURCE_ID = TypeAdapter(SourceId)
_NOBODY: Acl = frozenset()


class FolderConnector(Connector):
    capabilities = Capabilities(
        incremental=True, listing=True, permissions_refresh=True, groups=True, identities=True
    )

    def __init__(
        self,
        *,
        source_id: str,
        root: Path,
        tenant: str,
        clock: Callable[[], datetime],
        doc_type: str = "file",
        base_url: str | None = None,
        max_file_bytes: int = 20_000_000,
        checkpoint_every: int = 5000,
    ) -> None:
        try:
            self.source_id = _SOURCE_ID.validate_python(source_id)
            org(tenant)
        except (ValidationError, InvalidPrincipalError) as exc:
            raise ConnectorConfigError(f"folder source {source_id!r}: {exc}") from exc
        self._root = Path(root).absolute()
        self._tenant = tenant
        self._clock = clock
        self._doc_type = doc_type
        self._base_url = base_url.rstrip("/") if base_url else None
        self._max_file_bytes = max_file_bytes
        self._checkpoint_every = checkpoint_every

    # -- contract -------------------------------------------------------------------------

    def validate(self) -> None:
        if not self._root.is_dir():
            raise ConnectorConfigError(
                f"folder source {self.source_id!r}: {self._root} is not a folder"
            )
        if not os.access(self._root, os.R_OK | os.X_OK):
            raise ConnectorConfigError(
                f"folder source {self.source_id!r}: {self._root} is not readable"
            )
        self._directory()

    def changes(self, checkpoint: Checkpoint | None) -> Iterator[ChangeEvent]:
        previous = manifest.load(checkpoint)
        resolve = _AclResolver(self._directory())
        current: dict[str, Entry] = {}
        since_checkpoint = 0
        for item in self._walk():
            if isinstance(item, UnreadableFolder):
                yield from self._carry_over(item, previous, current)
                continue
            events, current[item.relpath] = self._visit(item, previous.get(item.relpath), resolve)
            yield from events
            since_checkpoint += 1
            if self._checkpoint_every and since_checkpoint >= self._checkpoint_every:
                since_checkpoint = 0
                # Files not visited yet keep their previous entries, so this checkpoint covers
                # exactly the events emitted so far and a resumed run redoes only the rest.
                yield CheckpointReached(
                    checkpoint=manifest.dump({**previous, **current}, self._clock())
                )
        for relpath in previous:
            if relpath not in current:
                yield DocumentDeleted(source_id=self.source_id, external_id=relpath)
        yield CheckpointReached(checkpoint=manifest.dump(current, self._clock()))

    def list_live_ids(self) -> Iterator[ListingEvent]:
        incomplete: str | None = None
        for item in walk(self._root, source=self.source_id, tenant=self._tenant):
            if isinstance(item, UnreadableFolder):
                incomplete = incomplete or f"folder {item.relpath or '.'!r}: {item.reason}"
                continue
            yield LiveId(external_id=item.relpath)
        yield ListingEnd(completed=incomplete is None, reason=incomplete)

    def permissions(self) -> Iterator[PermissionsChanged]:
        resolve = _AclResolver(self._directory())
        for item in self._walk():
            if isinstance(item, UnreadableFolder):
                continue  # the next incremental run hides what it cannot see
            acl = _NOBODY if item.rules.error else resolve(item.rules.layers)
            yield self._permissions_changed(item.relpath, acl)

    def groups(self) -> Iterator[GroupMembership]:
        yield from self._directory().memberships()

    def identities(self) -> Iterator[IdentityMapping]:
        yield from self._directory().mappings()

    # -- internals ------------------------------------------------------------------------

    def _directory(self) -> Directory:
        try:
            return load_directory(self._root, source=self.source_id, tenant=self._tenant)
        except FolderFileError as exc:
            raise ConnectorConfigError(f"folder source {self.source_id!r}: {exc}") from exc

    def _walk(self) -> Iterator[FileEntry | UnreadableFolder]:
        for item in walk(self._root, source=self.source_id, tenant=self._tenant):
            if isinstance(item, UnreadableFolder) and item.relpath == "":
                raise SourceUnavailableError(
                    f"folder source {self.source_id!r}: cannot list {self._root}: {item.reason}"
                )
            yield item

    def _visit(
        self, file: FileEntry, previous: Entry | None, resolve: _AclResolver
    ) -> tuple[list[ChangeEvent], Entry]:
        doc_type = file.rules.doc_type or self._doc_type
        url = self._url(file)
        shape_fp = manifest.fingerprint((doc_type, url))
        if file.rules.error is not None:
            # The ACL is unknown: never index under a guess, and hide what was indexed before.
            return self._failed(file.relpath, previous, _NOBODY, shape_fp, file.rules.error)
        acl = resolve(file.rules.layers)
        try:
            stat = file.path.stat(follow_symlinks=False)
        except OSError as exc:
            return self._failed(file.relpath, previous, acl, shape_fp, f"cannot stat: {exc}")
        if (
            previous is not None
            and previous.ok
            and previous.mtime_ns == stat.st_mtime_ns
            and previous.size == stat.st_size
            and previous.shape_fp == shape_fp
        ):
            acl_fp = manifest.acl_fingerprint(acl)
            unchanged = previous._replace(acl_fp=acl_fp)
            if acl_fp == previous.acl_fp:
                return [], unchanged
            return [self._permissions_changed(file.relpath, acl)], unchanged
        seen = (stat.st_mtime_ns, stat.st_size)
        try:
            document = self._document(file, stat.st_size, stat.st_mtime_ns, acl, doc_type, url)
        except _Skip as exc:
            return self._failed(file.relpath, previous, acl, shape_fp, str(exc), seen)
        entry = Entry(*seen, manifest.acl_fingerprint(acl), shape_fp, True)
        return [DocumentUpserted(document=document)], entry

    def _document(
        self, file: FileEntry, size: int, mtime_ns: int, acl: Acl, doc_type: str, url: str
    ) -> SourceDocument:
        if size > self._max_file_bytes:
            raise _Skip(f"file is {size} bytes, over the {self._max_file_bytes}-byte limit")
        try:
            with file.path.open("rb") as handle:
                data = handle.read(self._max_file_bytes + 1)
        except OSError as exc:
            raise _Skip(f"cannot read: {exc}") from exc
        if len(data) > self._max_file_bytes:
            raise _Skip(f"file grew over the {self._max_file_bytes}-byte limit while read")
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
                updated_at=datetime.fromtimestamp(mtime_ns / 1e9, UTC),
                content_type=parsed.content_type,
                doc_type=doc_type,
                breadcrumbs=file.folder,
                metadata=parsed.metadata,
                acl=acl,
            )
        except ValidationError as exc:
            raise _Skip(f"invalid document: {describe_validation_error(exc)}") from exc

    def _failed(
        self,
        relpath: str,
        previous: Entry | None,
        acl: Acl,
        shape_fp: str,
        reason: str,
        seen: tuple[int, int] | None = None,
    ) -> tuple[list[ChangeEvent], Entry]:
        """Record a failure; keep the path in the manifest (a failure is not a deletion).

        If the document may be indexed and its ACL is now different (or unknown, passed as the
        empty ACL), the index gets the new ACL so stale content is never wider than intended.
        """
        events: list[ChangeEvent] = []
        acl_fp = ""
        if previous is None or previous.indexed:
            # Without a manifest (first or full run) the index may hold this document from an
            # earlier run: send the ACL anyway; the runner ignores documents it does not hold.
            acl_fp = manifest.acl_fingerprint(acl)
            if previous is None or acl_fp != previous.acl_fp:
                events.append(self._permissions_changed(relpath, acl))
        events.append(DocumentFailed(source_id=self.source_id, external_id=relpath, reason=reason))
        if seen is None:
            seen = (previous.mtime_ns, previous.size) if previous is not None else (0, 0)
        return events, Entry(*seen, acl_fp, shape_fp, False)

    def _carry_over(
        self, folder: UnreadableFolder, previous: dict[str, Entry], current: dict[str, Entry]
    ) -> Iterator[ChangeEvent]:
        """An unlistable folder: what it held before is neither deleted nor trusted."""
        prefix = f"{folder.relpath}/"
        for relpath, entry in previous.items():
            if relpath.startswith(prefix) and relpath not in current:
                events, current[relpath] = self._failed(
                    relpath,
                    entry,
                    _NOBODY,
                    entry.shape_fp,
                    f"folder {folder.relpath!r}: {folder.reason}",
                )
                yield from events

    def _permissions_changed(self, relpath: str, acl: Acl) -> PermissionsChanged:
        return PermissionsChanged(source_id=self.source_id, external_id=relpath, acl=acl)

    def _url(self, file: FileEntry) -> str:
        if self._base_url:
            return f"{self._base_url}/{quote(file.relpath)}"
        return file.path.as_uri()


class _Skip(Exception):
    """This one file cannot become a document; the message is the recorded reason."""


class _AclResolver:
    """Effective ACLs of layer stacks, cached: most files share their folder's stack."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._cache: dict[tuple[Acl, ...], Acl] = {}

    def __call__(self, layers: Sequence[Acl]) -> Acl:
        key = tuple(layers)
        if key not in self._cache:
            self._cache[key] = effective_acl(list(key), self._directory.members_of)
        return self._cache[key]


def from_config(
    config: FolderSourceConfig, clock: Callable[[], datetime] | None = None
) -> FolderConnector:
    """Build the connector for the composition root; the clock defaults to UTC wall time."""
    return FolderConnector(
        source_id=config.id,
        root=config.path,
        tenant=config.tenant,
        clock=clock or (lambda: datetime.now(UTC)),
        doc_type=config.doc_type,
        base_url=config.base_url,
        max_file_bytes=config.max_file_bytes,
        checkpoint_every=config.checkpoint_every,
    )
