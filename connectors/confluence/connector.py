"""``ConfluenceConnector``: pages and blog posts of a Confluence Cloud site, with exact ACLs.

- Changes: CQL ``lastmodified`` windows (minute precision, read in the API user's timezone),
  each starting ``overlap`` before the newest change seen, deduplicated by id and version, with a
  checkpoint after every results page. Then the current listing of every space is compared with
  the index: live but not indexed is fetched (restores, which need not touch ``lastmodified``;
  pages moved into a space), indexed but not live is deleted (trashed, archived, purged, moved
  out, or in a space no longer synced).
- External ids are ``<space id>/<type>/<content id>``: the space is the scope (``work_scopes``,
  ``for_scope``), and a page moved to another space becomes a new document under the new
  space's permissions. An unscoped run deletes the old copy (no longer listed in its space); a
  scope run, which sees only its space's documents, deletes the copies under other spaces of
  what it writes anew, and its permissions run hides them (nobody).
- ACLs: ``layers.LayerReader``; permissions runs re-read them space by space.
- Comments (footer and inline) are part of their page's text and version. A comment changes
  neither the page's version nor its ``lastmodified``, so a second CQL window over
  ``type=comment`` names the pages whose comments changed.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from connectors.confluence.config import ConfluenceSourceConfig, OAuthAuth
from connectors.confluence.gateway import ConfluenceGateway, Refused
from connectors.confluence.layers import NOBODY, LayerReader
from connectors.confluence.storage_text import storage_to_text
from connectors.contract import EMPTY_INDEX, Capabilities, Connector, SyncContext
from connectors.directory import GroupMembership, IdentityMapping
from connectors.documents import Acl, AclLayer, SourceDocument
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
    ScopeFailed,
)
from connectors.gateway import RequestRejected
from connectors.org import ORG_MEMBERS_ID, OrgPolicy
from connectors.principals import InvalidPrincipalError, account, group, normalise_email

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "confluence-checkpoint/1"
_VERSION_FORMAT = "confluence/1"
# The comment part of a version when comments are excluded.
_NO_COMMENTS = "nc"
# The widest UTC offset: the window is widened by it when the API user's timezone is unknown.
_MAX_UTC_OFFSET = timedelta(hours=14)
# Ids per index lookup when looking for a page's copies under other spaces.
_LOOKUP_BATCH = 500


@dataclass(frozen=True)
class Space:
    id: str
    key: str
    name: str


@dataclass(frozen=True)
class Item:
    """One page or blog post as a listing or a search names it."""

    content_type: str
    content_id: str
    space: Space

    @property
    def external_id(self) -> str:
        return f"{self.space.id}/{self.content_type}/{self.content_id}"


@dataclass(frozen=True)
class _ResultsPageDone:
    """The comment window finished a results page: ``changes`` checkpoints there."""


@dataclass(frozen=True)
class _CommentSeen:
    when: datetime


class ConfluenceConnector(Connector):
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
        gateway: ConfluenceGateway,
        org: OrgPolicy,
        clock: Callable[[], datetime],
        spaces_allow: Iterable[str] = (),
        spaces_deny: Iterable[str] = (),
        content_types: Iterable[str] = ("page", "blogpost"),
        overlap: timedelta = timedelta(minutes=60),
        comments: bool = True,
    ) -> None:
        self.source_id = source_id
        self._gateway = gateway
        self._org = org
        self._clock = clock
        self._allow = frozenset(spaces_allow)
        self._deny = frozenset(spaces_deny)
        self._types = tuple(t for t in ("page", "blogpost") if t in set(content_types))
        self._overlap = overlap
        self._comments = comments
        self._names: dict[str, str] = {}
        self._timezone: ZoneInfo | None = None
        self._timezone_known = False
        # Accounts whose profile hides their email, as the last identities() counted them
        # (None until identities() has run: other run types have nothing to report).
        self.hidden_emails: int | None = None
        self._titles: dict[str, str | None] = {}
        self._scope: str | None = None  # a space id: this connector covers that space only
        self._written: set[str] = set()  # external ids upserted this run
        self._unwritten: set[str] = set()  # external ids failed this run

    # -- scopes (schedules.scopes.ScopedSource) -------------------------------------------

    def work_scopes(self) -> list[str]:
        """The configured spaces' ids (one space listing), in id order."""
        return sorted((s.id for s in self._configured_spaces()), key=_space_order)

    def for_scope(self, scope: str) -> ConfluenceConnector:
        scoped = copy.copy(self)
        # Its own gateway object: a run binds the gateway's waits to its own stop event.
        scoped._gateway = copy.copy(self._gateway)
        scoped._scope = scope
        scoped._names, scoped._titles, scoped._written, scoped._unwritten = {}, {}, set(), set()
        scoped.hidden_emails = None
        return scoped

    # -- contract -------------------------------------------------------------------------

    def scope_of(self, external_id: str) -> str:
        return external_id.split("/", 1)[0]

    def validate(self) -> None:
        try:
            me = self._gateway.current_user()
        except SourceUnavailableError as exc:
            raise ConnectorConfigError(f"confluence source {self.source_id!r}: {exc}") from exc
        zone = me.get("timeZone")
        self._timezone_known = True
        try:
            self._timezone = ZoneInfo(zone) if isinstance(zone, str) and zone else None
        except (ZoneInfoNotFoundError, ValueError):
            self._timezone = None

    def changes(
        self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        self._bind(context)
        if not self._timezone_known:
            self.validate()
        reader = LayerReader(self._gateway, self.source_id, self._org)
        self._titles = {}  # breadcrumbs: each ancestor's title read once a run
        self._names = {}  # comment authors' names, read once a run
        self._written, self._unwritten = set(), set()
        configured = self._configured_spaces()
        spaces = self._in_scope(configured)
        value = checkpoint.value if checkpoint is not None else {}
        since = None if context.full else _parse_time(value.get("since"))
        # A checkpoint written before comments were indexed has no comment window of its own.
        comments_since = (
            None if context.full else _parse_time(value.get("comments_since", value.get("since")))
        )
        handled: set[str] = set()
        fetched: set[str] = set()  # fetched with their comments this run
        newest = since
        newest_comment = comments_since
        by_key = {space.key: space for space in spaces}
        next_url: str | None = None
        cql = self._cql(spaces, since)
        while cql is not None:
            page = self._gateway.search(cql, next_url)
            found: list[tuple[Item, str, datetime | None]] = []
            for result in page.results:
                parsed = self._search_item(result, by_key)
                if parsed is not None:
                    found.append(parsed)
            versions = context.indexed_versions([item.external_id for item, _, _ in found])
            arrived = [item for item, _, _ in found if item.external_id not in versions]
            for item, version, when in found:
                if when is not None and (newest is None or when > newest):
                    newest = when
                key = f"{item.external_id}@{version}"
                if key in handled:
                    continue  # the overlap, or a change made while paging, seen twice
                handled.add(key)
                handled.add(item.external_id)
                current = self._is_current(versions.get(item.external_id), version)
                if not current:
                    fetched.add(item.external_id)
                yield from self._visit(item, current, reader)
            yield from self._drop_copies(arrived, configured, context)
            yield CheckpointReached(checkpoint=self._checkpoint(newest, newest_comment))
            next_url = page.next_url
            if next_url is None:
                break
        if self._comments:
            commented = self._commented(
                spaces, configured, by_key, comments_since, context, reader, fetched
            )
            for event in commented:
                if isinstance(event, _CommentSeen):
                    if newest_comment is None or event.when > newest_comment:
                        newest_comment = event.when
                elif isinstance(event, _ResultsPageDone):
                    yield CheckpointReached(checkpoint=self._checkpoint(newest, newest_comment))
                else:
                    yield event
        handled |= fetched
        yield from self._reconcile(spaces, configured, context, reader, handled)
        yield CheckpointReached(checkpoint=self._checkpoint(newest, newest_comment))

    def list_live_ids(self) -> Iterator[ListingEvent]:
        for space in self._spaces():
            try:
                for item in self._live(space):
                    yield LiveId(external_id=item.external_id)
            except RequestRejected as exc:
                yield _scope_failed(space, exc)
        yield ListingEnd(completed=True)

    def permissions(
        self, checkpoint: Checkpoint | None = None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[PermissionsEvent]:
        self._bind(context)
        reader = LayerReader(self._gateway, self.source_id, self._org)
        after = str((checkpoint.value if checkpoint else {}).get("after_space") or "")
        indexed: dict[str, set[str]] = {}
        for external_id in context.indexed_ids():
            indexed.setdefault(self.scope_of(external_id), set()).add(external_id)
        configured = self._configured_spaces()
        spaces = sorted(self._in_scope(configured), key=lambda s: _space_order(s.id))
        listed = {space.id for space in spaces}
        for space in spaces:
            if after and _space_order(space.id) <= _space_order(after):
                continue
            held = indexed.get(space.id, set())
            try:
                live = {item.external_id: item for item in self._live(space)}
            except RequestRejected as exc:
                yield _scope_failed(space, exc)
                continue
            for external_id in sorted(held):
                item = live.get(external_id)
                if item is None:
                    # Gone since the last incremental run, which will delete it; until then
                    # its old ACL must not meet memberships a groups run has widened.
                    yield self._permissions_changed(external_id, NOBODY)
                    continue
                resolved = reader.resolve(item.content_type, item.content_id, space.id)
                if resolved.unknown is not None:
                    log.warning(
                        "confluence %s: %s: %s", self.source_id, external_id, resolved.unknown
                    )
                yield self._permissions_changed(external_id, resolved.acl, resolved.layers)
            # Moved here since this space's last incremental run: a copy under another space
            # keeps that space's ACL, and a scope run cannot see it fail there, so nobody.
            arrived = [item for external_id, item in live.items() if external_id not in held]
            for copy_id in self._copies_elsewhere(arrived, configured, context):
                yield self._permissions_changed(copy_id, NOBODY)
            yield CheckpointReached(
                checkpoint=Checkpoint(value={"format": CHECKPOINT_FORMAT, "after_space": space.id})
            )
        for scope, held in sorted(indexed.items()):
            if scope not in listed:
                for external_id in sorted(held):
                    yield self._permissions_changed(external_id, NOBODY)
        yield CheckpointReached(checkpoint=Checkpoint(value={"format": CHECKPOINT_FORMAT}))

    def groups(self) -> Iterator[GroupMembership]:
        try:
            licensed = {g["id"] for g in self._gateway.groups("user") if g.get("id")}
            every = [g for g in self._gateway.groups() if g.get("id")]
        except (RequestRejected, SourceUnavailableError) as exc:
            raise PermissionSourceUnreadableError(f"confluence groups: {exc}") from exc
        org_members: set[str] = set()
        for entry in every:
            members = self._members(str(entry["id"]))
            accounts = frozenset(account(self.source_id, m["accountId"]) for m in members)
            if entry["id"] in licensed:
                org_members |= {
                    account(self.source_id, m["accountId"])
                    for m in members
                    if m.get("accountType", "atlassian") == "atlassian"
                }
            yield GroupMembership(group=group(self.source_id, str(entry["id"])), members=accounts)
        # Licensed users of the site: the org's members, when the deployment trusts this source.
        yield GroupMembership(
            group=group(self.source_id, ORG_MEMBERS_ID), members=frozenset(org_members)
        )

    def run_notes(self) -> dict[str, int]:
        if self.hidden_emails is None:
            return {}
        return {"hidden_emails": self.hidden_emails}

    def identities(self) -> Iterator[IdentityMapping]:
        try:
            every = [g for g in self._gateway.groups() if g.get("id")]
        except (RequestRejected, SourceUnavailableError) as exc:
            raise PermissionSourceUnreadableError(f"confluence users: {exc}") from exc
        seen: set[str] = set()
        hidden = 0
        for member in self._known_users(every):
            account_id = member["accountId"]
            if account_id in seen:
                continue
            seen.add(account_id)
            email = member.get("email") or ""
            try:
                address = normalise_email(email) if email else None
            except InvalidPrincipalError:
                address = None
            if address is None:
                hidden += 1
                continue
            yield IdentityMapping(account=account(self.source_id, account_id), email=address)
        self.hidden_emails = hidden
        if hidden:
            log.warning(
                "confluence %s: %d account(s) hide their email; they match only as account:",
                self.source_id,
                hidden,
                extra={"source": self.source_id, "hidden_emails": hidden},
            )

    # -- internals ------------------------------------------------------------------------

    def _known_users(self, every: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Group members, then people granted a synced space by name (a licensed user is in a
        product-access group; a space grant can name someone who is in none)."""
        named: set[str] = set()
        for entry in every:
            for member in self._members(str(entry["id"])):
                named.add(member["accountId"])
                yield member
        for space in self._spaces():
            grants = self._gateway.space_read_grants(space.id)
            if isinstance(grants, Refused):
                continue
            for kind, account_id in grants:
                if kind != "user" or account_id in named:
                    continue
                named.add(account_id)
                person = self._gateway.user(account_id)
                if not isinstance(person, Refused) and person.get("accountId") == account_id:
                    yield person

    def _bind(self, context: SyncContext) -> None:
        """Gateway waits end when the run is asked to stop."""
        policy = self._gateway.policy
        if policy.stop is not context.stop:
            self._gateway.policy = dataclasses.replace(policy, stop=context.stop)

    def _spaces(self) -> list[Space]:
        return self._in_scope(self._configured_spaces())

    def _in_scope(self, spaces: list[Space]) -> list[Space]:
        return [space for space in spaces if self._scope in (None, space.id)]

    def _copies_elsewhere(
        self, items: Sequence[Item], spaces: Sequence[Space], context: SyncContext
    ) -> Iterator[str]:
        """External ids the index holds for these pages under other configured spaces; asked
        in scope runs only (an unscoped run sees those copies unlisted in their own space)."""
        if self._scope is None:
            return
        candidates = [
            f"{space.id}/{item.content_type}/{item.content_id}"
            for item in items
            for space in spaces
            if space.id != item.space.id
        ]
        for start in range(0, len(candidates), _LOOKUP_BATCH):
            yield from context.indexed_versions(candidates[start : start + _LOOKUP_BATCH])

    def _drop_copies(
        self, items: Sequence[Item], spaces: Sequence[Space], context: SyncContext
    ) -> Iterator[ChangeEvent]:
        """Pages this run wrote anew (moved here): their copies under other spaces go now.
        Pages here that failed: those copies' ACLs no longer apply, so nobody."""
        written = [item for item in items if item.external_id in self._written]
        for copy_id in self._copies_elsewhere(written, spaces, context):
            yield DocumentDeleted(source_id=self.source_id, external_id=copy_id)
        failed = [item for item in items if item.external_id in self._unwritten]
        for copy_id in self._copies_elsewhere(failed, spaces, context):
            yield self._permissions_changed(copy_id, NOBODY)

    def _configured_spaces(self) -> list[Space]:
        spaces = []
        for entry in self._gateway.spaces():
            key, ident = entry.get("key"), entry.get("id")
            if not isinstance(key, str) or not isinstance(ident, str):
                continue
            if (self._allow and key not in self._allow) or key in self._deny:
                continue
            spaces.append(Space(id=ident, key=key, name=str(entry.get("name") or key)))
        return spaces

    def _live(self, space: Space) -> Iterator[Item]:
        for content_type in self._types:
            for entry in self._gateway.contents_in_space(space.id, content_type):
                ident = entry.get("id")
                if isinstance(ident, str) and entry.get("status", "current") == "current":
                    yield Item(content_type, ident, space)

    def _members(self, group_id: str) -> list[dict[str, Any]]:
        found = self._gateway.group_members(group_id)
        if isinstance(found, Refused):
            raise PermissionSourceUnreadableError(f"confluence group {group_id}: {found}")
        return [m for m in found if isinstance(m.get("accountId"), str) and m["accountId"]]

    def _commented(
        self,
        spaces: list[Space],
        configured: list[Space],
        by_key: dict[str, Space],
        since: datetime | None,
        context: SyncContext,
        reader: LayerReader,
        fetched: set[str],
    ) -> Iterator[ChangeEvent | _CommentSeen | _ResultsPageDone]:
        """Pages and blog posts whose comments changed in the comment window, visited again,
        with each comment's modification time and the end of every results page (``changes``
        turns them into checkpoints)."""
        cql = self._cql(spaces, since, types="comment")
        next_url: str | None = None
        while cql is not None:
            page = self._gateway.search(cql, next_url, expand="version,space,container")
            containers: list[Item] = []
            for result in page.results:
                when = _parse_time((result.get("version") or {}).get("when"))
                if when is not None:
                    yield _CommentSeen(when)
                item = self._container_item(result, by_key)
                if item is not None and item.external_id not in fetched:
                    fetched.add(item.external_id)
                    containers.append(item)
            versions = context.indexed_versions([item.external_id for item in containers])
            for item in containers:
                yield from self._revisit(item, versions.get(item.external_id), reader)
            arrived = [item for item in containers if item.external_id not in versions]
            yield from self._drop_copies(arrived, configured, context)
            yield _ResultsPageDone()
            next_url = page.next_url
            if next_url is None:
                break

    def _container_item(self, result: dict[str, Any], by_key: dict[str, Space]) -> Item | None:
        if result.get("type") != "comment":
            return None
        container = result.get("container") or {}
        kind, ident = container.get("type"), container.get("id")
        space = by_key.get(str((result.get("space") or {}).get("key")))
        if kind not in self._types or space is None:
            return None
        if isinstance(ident, int):
            ident = str(ident)
        if not isinstance(ident, str) or not ident:
            return None
        return Item(str(kind), ident, space)

    def _revisit(
        self, item: Item, indexed: str | None, reader: LayerReader
    ) -> Iterator[ChangeEvent]:
        """A page whose comments changed: fetched again unless the index holds these comments
        (a comment seen again in the overlap)."""
        comments = self._read_comments(item)
        if isinstance(comments, str):
            resolved = reader.resolve(item.content_type, item.content_id, item.space.id)
            yield self._permissions_changed(item.external_id, resolved.acl, resolved.layers)
            yield self._failed(item.external_id, comments)
            return
        if indexed is not None and _marker_of(indexed) == _comment_marker(comments):
            yield from self._visit(item, True, reader)
            return
        yield from self._fetch(item, reader, comments)

    def _read_comments(self, item: Item) -> list[dict[str, Any]] | str:
        """The item's comments, or why they cannot be read (the page then fails alone)."""
        try:
            found = self._gateway.comments(item.content_type, item.content_id)
        except RequestRejected as exc:
            return f"comments cannot be read: {exc}"
        if isinstance(found, Refused):
            return f"comments cannot be read: {found}"
        return found

    def _is_current(self, indexed: str | None, page_version: str) -> bool:
        """Whether the index holds this page version, with comments as this source indexes them
        (a page that changed only its comments is found by the comment window)."""
        if indexed is None:
            return False
        page_part, _, marker = indexed.rpartition("|")
        if page_part != page_version:
            return False
        return marker.startswith("c") if self._comments else marker == _NO_COMMENTS

    def _comments_text(self, comments: list[dict[str, Any]]) -> str:
        parts = []
        for comment in comments:
            storage = ((comment.get("body") or {}).get("storage") or {}).get("value") or ""
            text = storage_to_text(str(storage)).strip()
            if not text:
                continue
            author = (comment.get("version") or {}).get("authorId")
            name = self._author_name(author) if isinstance(author, str) else "Unknown user"
            inline = " (inline)" if comment.get("kind") == "inline" else ""
            parts.append(f"## {name}{inline}\n\n{text}")
        return "# Comments\n\n" + "\n\n".join(parts) if parts else ""

    def _author_name(self, account_id: str) -> str:
        if account_id not in self._names:
            try:
                person = self._gateway.user(account_id)
            except RequestRejected:
                person = Refused(400, "user")
            name = None
            if not isinstance(person, Refused):
                name = person.get("publicName") or person.get("displayName")
            self._names[account_id] = name if isinstance(name, str) and name else "Unknown user"
        return self._names[account_id]

    def _cql(
        self, spaces: list[Space], since: datetime | None, *, types: str | None = None
    ) -> str | None:
        if not spaces:
            return None
        types = types or ",".join(self._types)
        keys = ",".join(f'"{s.key}"' for s in spaces)
        cql = f"type in ({types}) and space in ({keys})"
        if since is not None:
            cql += f' and lastmodified >= "{self._cql_time(since - self._overlap)}"'
        return cql + " order by lastmodified asc"

    def _cql_time(self, instant: datetime) -> str:
        """``instant`` as CQL reads it: minutes, in the API user's profile timezone (floored,
        and widened by the largest UTC offset when that timezone is not known)."""
        if self._timezone is None:
            local = (instant - _MAX_UTC_OFFSET).astimezone(UTC)
        else:
            local = instant.astimezone(self._timezone)
        return local.strftime("%Y-%m-%d %H:%M")

    def _search_item(
        self, result: dict[str, Any], by_key: dict[str, Space]
    ) -> tuple[Item, str, datetime | None] | None:
        content_type, ident = result.get("type"), result.get("id")
        space = by_key.get(str((result.get("space") or {}).get("key")))
        number = (result.get("version") or {}).get("number")
        if content_type not in self._types or not isinstance(ident, str) or space is None:
            return None
        when = _parse_time((result.get("version") or {}).get("when"))
        return Item(str(content_type), ident, space), _version(str(content_type), number), when

    def _visit(self, item: Item, indexed: bool, reader: LayerReader) -> Iterator[ChangeEvent]:
        if indexed:
            resolved = reader.resolve(item.content_type, item.content_id, item.space.id)
            yield self._permissions_changed(item.external_id, resolved.acl, resolved.layers)
            if resolved.unknown is not None:
                yield self._failed(item.external_id, resolved.unknown)
            return
        yield from self._fetch(item, reader)

    def _fetch(
        self,
        item: Item,
        reader: LayerReader,
        comments: list[dict[str, Any]] | None = None,
    ) -> Iterator[ChangeEvent]:
        content = self._gateway.content(item.content_type, item.content_id)
        if isinstance(content, Refused):
            if content.status == 404:
                return  # trashed or purged since it was listed: the listing settles it
            yield self._permissions_changed(item.external_id, NOBODY)
            yield self._failed(item.external_id, str(content))
            return
        if str(content.get("spaceId")) != item.space.id:
            return  # moved since it was listed: found under its new space
        resolved = reader.resolve(item.content_type, item.content_id, item.space.id)
        if resolved.unknown is not None:
            yield self._permissions_changed(item.external_id, NOBODY)
            yield self._failed(item.external_id, resolved.unknown)
            return
        if self._comments and comments is None:
            read = self._read_comments(item)
            if isinstance(read, str):
                # The page's ACL is known and stays; its text waits for readable comments.
                yield self._permissions_changed(item.external_id, resolved.acl, resolved.layers)
                yield self._failed(item.external_id, read)
                return
            comments = read
        try:
            document = self._document(
                item, content, resolved.acl, resolved.ancestors, comments or []
            ).model_copy(update={"acl_layers": resolved.layers})
        except (ValidationError, ValueError) as exc:
            yield self._permissions_changed(item.external_id, resolved.acl, resolved.layers)
            yield self._failed(item.external_id, f"invalid document: {exc}")
            return
        self._written.add(item.external_id)
        yield DocumentUpserted(document=document)

    def _document(
        self,
        item: Item,
        content: dict[str, Any],
        acl: Acl,
        ancestors: tuple[tuple[str, str], ...],
        comments: list[dict[str, Any]],
    ) -> SourceDocument:
        version = content.get("version") or {}
        body = ((content.get("body") or {}).get("storage") or {}).get("value") or ""
        text = storage_to_text(body)
        discussion = self._comments_text(comments) if self._comments else ""
        if discussion:
            text = f"{text}\n\n{discussion}" if text else discussion
        marker = _comment_marker(comments) if self._comments else _NO_COMMENTS
        labels = [
            str(label["name"])
            for label in ((content.get("labels") or {}).get("results") or [])
            if isinstance(label, dict) and isinstance(label.get("name"), str)
        ]
        titles = [self._title(kind, ident) for kind, ident in ancestors]
        webui = (content.get("_links") or {}).get("webui")
        updated = _parse_time(version.get("createdAt")) or self._clock()
        return SourceDocument(
            source_id=self.source_id,
            external_id=item.external_id,
            title=str(content.get("title") or ""),
            body=text,
            url=f"{self._gateway.site}/wiki{webui}" if isinstance(webui, str) else None,
            author=content.get("authorId") if isinstance(content.get("authorId"), str) else None,
            created_at=_parse_time(content.get("createdAt")),
            updated_at=updated,
            content_type="text/plain",
            doc_type=item.content_type,
            breadcrumbs=(item.space.name, *(t for t in titles if t)),
            metadata={
                "space_key": item.space.key,
                "content_id": item.content_id,
                "labels": labels,
                "version_number": int(version.get("number") or 0),
                "comment_count": len(comments) if self._comments else 0,
            },
            version=f"{_version(item.content_type, version.get('number'))}|{marker}",
            acl=acl,
        )

    def _title(self, kind: str, ident: str) -> str | None:
        if ident not in self._titles:
            self._titles[ident] = self._gateway.node_title(kind, ident)
        return self._titles[ident]

    def _reconcile(
        self,
        spaces: list[Space],
        configured: list[Space],
        context: SyncContext,
        reader: LayerReader,
        handled: set[str],
    ) -> Iterator[ChangeEvent]:
        live: dict[str, Item] = {}
        failed: set[str] = set()
        for space in spaces:
            try:
                for item in self._live(space):
                    live[item.external_id] = item
            except RequestRejected as exc:
                failed.add(space.id)
                yield _scope_failed(space, exc)
        indexed = set(context.indexed_ids())
        arrived = [live[external_id] for external_id in sorted(set(live) - indexed - handled)]
        for item in arrived:
            yield from self._fetch(item, reader)
        yield from self._drop_copies(arrived, configured, context)
        if context.full:
            return  # a full run deletes by its listing, after it completed
        for external_id in sorted(indexed - set(live)):
            if self.scope_of(external_id) not in failed:
                yield DocumentDeleted(source_id=self.source_id, external_id=external_id)

    def _checkpoint(self, newest: datetime | None, newest_comment: datetime | None) -> Checkpoint:
        value: dict[str, Any] = {"format": CHECKPOINT_FORMAT}
        if newest is not None:
            value["since"] = newest.astimezone(UTC).isoformat()
        if newest_comment is not None:
            value["comments_since"] = newest_comment.astimezone(UTC).isoformat()
        return Checkpoint(value=value)

    def _permissions_changed(
        self, external_id: str, acl: Acl, layers: tuple[AclLayer, ...] = ()
    ) -> PermissionsChanged:
        return PermissionsChanged(
            source_id=self.source_id, external_id=external_id, acl=acl, acl_layers=layers
        )

    def _failed(self, external_id: str, reason: str) -> DocumentFailed:
        self._unwritten.add(external_id)
        return DocumentFailed(source_id=self.source_id, external_id=external_id, reason=reason)


def _version(content_type: str, number: Any) -> str:
    """The page part of a document's version (what a CQL result names)."""
    return f"{_VERSION_FORMAT}|{content_type}|{number}"


def _comment_marker(comments: list[dict[str, Any]]) -> str:
    """The comment part of a document's version: how many, and a digest of every comment's id
    and version (an added, edited or removed comment changes it)."""
    pairs = sorted(
        f"{c.get('id')}:{(c.get('version') or {}).get('number')}:{c.get('kind')}" for c in comments
    )
    digest = hashlib.sha256("\n".join(pairs).encode()).hexdigest()[:16]
    return f"c{len(comments)}-{digest}"


def _marker_of(version: str) -> str:
    return version.rpartition("|")[2]


def _space_order(space_id: str) -> tuple[int, str]:
    return (int(space_id), "") if space_id.isdigit() else (0, space_id)


def _scope_failed(space: Space, exc: Exception) -> ScopeFailed:
    return ScopeFailed(scope=space.id, reason=f"space {space.key}: {exc}")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def from_config(
    config: ConfluenceSourceConfig, org: OrgPolicy, clock: Callable[[], datetime] | None = None
) -> ConfluenceConnector:
    auth = config.auth
    if isinstance(auth, OAuthAuth):
        gateway = ConfluenceGateway(
            config.base_url,
            bearer_token=auth.bearer_token.get_secret_value(),
            timeout_s=config.request_timeout_s,
            page_size=config.page_size,
        )
    else:
        gateway = ConfluenceGateway(
            config.base_url,
            email=auth.email,
            api_token=auth.api_token.get_secret_value(),
            timeout_s=config.request_timeout_s,
            page_size=config.page_size,
        )
    return ConfluenceConnector(
        source_id=config.id,
        gateway=gateway,
        org=org,
        clock=clock or (lambda: datetime.now(UTC)),
        spaces_allow=config.spaces_allow,
        spaces_deny=config.spaces_deny,
        content_types=config.content_types,
        overlap=timedelta(minutes=config.overlap_minutes),
        comments=config.comments == "include",
    )
