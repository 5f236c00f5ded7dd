"""Slack: threads and message windows of the channels a bot is in, trimmed to who may read them.

Documents. A thread (its parent and every reply) is one document, ``<C>/thread/<ts>``. Messages
outside threads are grouped per channel into fixed UTC windows (``window_hours``),
``<C>/window/<start>``. Mentions are resolved to names; an edit changes the document's text.

Permissions. Every channel is the group ``group:<source>:channel:<C>``, its members from
``groups()``, so a member joining or leaving changes the group, not the documents. Which groups
a channel's documents carry, and the one layer behind them, is ``connectors.slack.access``.

Scopes. A channel is a scope: ``work_scopes()`` lists them, ``for_scope(C)`` is the connector of
channel ``C`` alone (changes, listing, permissions and checkpoint values), reading it with
``conversations.info`` and its authors with ``users.info``; groups and identities stay
source-wide.

Incremental runs. Per channel the checkpoint keeps the history high-water mark and the threads
with a reply within ``thread_horizon_days`` (parent ts -> latest reply seen). A run re-reads the
history from ``lookback_days`` before the mark, or from the oldest such thread started within
the horizon if that is older: history carries each parent's ``latest_reply``, so a late reply to
a month-old thread is found by the next run (Onyx #14012 misses it) at the cost of history pages,
not a call per thread; only threads whose reply changed, or with activity within the lookback,
are fetched again. Tracked threads started before the horizon are polled with one
``conversations.replies`` page each. Edits and deletions are found within the re-read range. A
deleted parent (``tombstone``, ``thread_not_found``) or a deleted channel
(``channel_not_found``) deletes its documents; a channel no longer listed, excluded or dropped
as archived too, once the listing completed.

Files. A file attached to a message of an indexed channel (or to a thread's parent) is its own
document, ``<C>/file/<F>``, with that channel's ACL. A file shared in several channels is indexed
once under each: every copy carries exactly one channel's ACL, leaves with that channel, and
follows that channel's membership, where a union ACL would stay readable through a channel the
file was unshared from until something rewrote it. Text-like files and PDFs are downloaded
(``max_file_bytes``; larger ones are recorded as skipped) and their text indexed; other types are
indexed by title and name. A tombstoned, hidden or 404 file deletes its document; a download that
fails fails that file only.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from connectors.contract import EMPTY_INDEX, Capabilities, Connector, SyncContext
from connectors.directory import GroupMembership, IdentityMapping
from connectors.documents import SourceDocument, SourceId
from connectors.errors import ConnectorConfigError, ConnectorError, SourceUnavailableError
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
from connectors.gateway import StopRequested
from connectors.org import OrgPolicy, guests_group, members_group
from connectors.principals import group
from connectors.slack.access import (
    ChannelAccess,
    channel_access,
    channel_group,
    team_group,
    unlisted_access,
)
from connectors.slack.channels import Channel
from connectors.slack.config import SlackSettings
from connectors.slack.files import SharedFile, UnreadableFile, files_of, text_of
from connectors.slack.gateway import (
    ChannelGone,
    FileGone,
    FileTooLarge,
    SlackGateway,
    SlackRequestFailed,
    ThreadGone,
)
from connectors.slack.people import Person
from connectors.slack.render import Message, first_line, plain_text, render, utc, version_of

_SOURCE_ID = TypeAdapter(SourceId)
_DAY = 86_400.0
# Messages that are not conversation (joins, topic changes) stay out of documents.
_NOISE = frozenset(
    {
        "channel_join",
        "channel_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
        "group_join",
        "group_leave",
        "pinned_item",
    }
)
_DIRECTORY_TTL_S = 120.0


@dataclass
class _Directory:
    people: dict[str, Person]
    members: dict[str, list[str] | None] = field(default_factory=dict)
    made: float = 0.0


class SlackConnector(Connector):
    capabilities = Capabilities(
        incremental=True,
        listing=True,
        permissions_refresh=True,
        groups=True,
        identities=True,
        acls_expand_groups=False,
    )

    def __init__(
        self,
        *,
        source_id: str,
        gateway: SlackGateway,
        org: OrgPolicy,
        clock: Callable[[], datetime],
        team_ids: Sequence[str] = (),
        channels: Sequence[str] = (),
        exclude_channels: Sequence[str] = (),
        archived: str = "index",
        group_dms: bool = False,
        usergroups: bool = True,
        lookback_days: float = 7.0,
        thread_horizon_days: float = 90.0,
        window_hours: int = 24,
        files: bool = True,
        max_file_bytes: int = 10_000_000,
    ) -> None:
        try:
            self.source_id = _SOURCE_ID.validate_python(source_id)
        except ValidationError as exc:
            raise ConnectorConfigError(f"slack source {source_id!r}: {exc}") from exc
        self._api = gateway
        self._org = org
        self._clock = clock
        self._teams = tuple(team_ids)
        self._teams_configured = bool(team_ids)
        self._allow = frozenset(channels)
        self._deny = frozenset(exclude_channels)
        self._archived = archived
        self._group_dms = group_dms
        self._usergroups = usergroups
        self._lookback_s = lookback_days * _DAY
        self._horizon_s = thread_horizon_days * _DAY
        self._window_s = window_hours * 3600
        self._files = files
        self._max_file_bytes = max_file_bytes
        self._team_url = ""
        self._team_name = ""
        self._directory: _Directory | None = None
        # The one channel of a scope run (``for_scope``); None: every channel.
        self._only: str | None = None
        # The names of every channel, when a scope run had to walk them (Grid tokens).
        self._walked: dict[str, str] | None = None

    # -- the contract ------------------------------------------------------------------------

    def validate(self) -> None:
        try:
            self._identify()
        except SourceUnavailableError as exc:
            raise ConnectorConfigError(f"slack source {self.source_id!r}: {exc}") from exc

    def scope_of(self, external_id: str) -> str:
        return external_id.split("/", 1)[0]

    # Scopes as units of work (``schedules.scopes.ScopedSource``): a scope is a channel.

    def work_scopes(self) -> list[str]:
        """The channels a run walks, by id: one ``conversations.list`` walk, nothing else."""
        return [c.id for c in self._channels()]

    def for_scope(self, scope: str) -> SlackConnector:
        """This source's connector for channel ``scope`` alone: its changes, listing and
        permissions, and its checkpoint values. With a workspace token the channel is looked up
        with one ``conversations.info`` call (Tier 3), not a walk of every channel (Tier 2) per
        scope; an org-wide token with ``team_ids`` still walks (the listing decides the team); a
        channel no longer there (or no longer wanted) is treated as an unscoped run treats an
        unlisted one: its documents go. Names are read per person (``users.info``) as they
        occur, not with a ``users.list`` walk per channel. Groups and identities stay
        source-wide."""
        if not scope or "/" in scope:
            raise ValueError(f"slack source {self.source_id!r}: {scope!r} is not a channel id")
        scoped = copy.copy(self)
        scoped._only = scope
        scoped._directory = None
        scoped._walked = None
        return scoped

    def changes(
        self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        value = checkpoint.value if checkpoint is not None else {}
        states: dict[str, dict[str, Any]] = {
            k: dict(v) for k, v in dict(value.get("channels") or {}).items()
        }
        done: list[str] = list(value.get("done") or [])
        channels = self._channels()
        # A scope run names only the people its channel shows, one users.info each.
        directory = self._people(lazy=self._only is not None)
        indexed = self._indexed_by_channel(context)
        listed = {c.id for c in channels}
        for channel_id in sorted(set(indexed) - listed):
            # Deleted, excluded, dropped as archived, or the bot was removed: the listing above
            # completed (it raises otherwise), so what it no longer lists goes.
            for external_id in sorted(indexed[channel_id]):
                yield self._deleted(external_id)
            states.pop(channel_id, None)
        for channel_id in sorted(set(states) - listed):
            states.pop(channel_id, None)
        names: dict[str, str | None] = {c.id: c.name for c in channels}
        for channel in channels:
            if channel.id in done:
                continue
            state = states.get(channel.id, {})
            try:
                events, new_state = self._sync_channel(
                    channel, state, indexed.get(channel.id, set()), context, directory, names
                )
            except ChannelGone:
                events = [self._deleted(i) for i in sorted(indexed.get(channel.id, set()))]
                new_state = None
            except SlackRequestFailed as exc:
                events = [ScopeFailed(scope=channel.id, reason=f"channel #{channel.name}: {exc}")]
                new_state = state or None
            yield from events
            if new_state is None:
                states.pop(channel.id, None)
            else:
                states[channel.id] = new_state
            done.append(channel.id)
            yield CheckpointReached(checkpoint=Checkpoint(value={"channels": states, "done": done}))
        # Every channel walked: the next run starts over from these marks.
        yield CheckpointReached(checkpoint=Checkpoint(value={"channels": states, "done": []}))

    def list_live_ids(self) -> Iterator[ListingEvent]:
        try:
            channels = self._channels()
        except ConnectorError as exc:
            yield ListingEnd(completed=False, reason=f"conversations.list: {exc}")
            return
        for channel in channels:
            try:
                messages = self._history(channel.id, oldest=None)
            except ChannelGone:
                continue
            except SlackRequestFailed as exc:
                yield ScopeFailed(scope=channel.id, reason=f"channel #{channel.name}: {exc}")
                continue
            except ConnectorError as exc:
                yield ListingEnd(completed=False, reason=f"history of {channel.id}: {exc}")
                return
            roots, plain = self._split(messages)
            for ts, raw in sorted(roots.items()):
                if raw.get("subtype") != "tombstone":
                    yield LiveId(external_id=_thread_id(channel.id, ts))
            for start in sorted({self._window_of(m.ts) for m in plain}):
                yield LiveId(external_id=_window_id(channel.id, start))
            for file in sorted(self._readable_files(messages).values(), key=lambda f: f.id):
                yield LiveId(external_id=_file_id(channel.id, file.id))
        yield ListingEnd(completed=True)

    def permissions(
        self, checkpoint: Checkpoint | None = None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[PermissionsEvent]:
        done = list(checkpoint.value.get("done") or []) if checkpoint is not None else []
        channels = {c.id: c for c in self._channels()}
        indexed = self._indexed_by_channel(context)
        for channel_id in sorted(indexed):
            if channel_id in done:
                continue
            channel = channels.get(channel_id)
            # A channel no longer listed is hidden until an incremental run deletes it.
            access = self._access(channel) if channel is not None else unlisted_access(channel_id)
            for external_id in sorted(indexed[channel_id]):
                yield self._acl_event(external_id, access)
            done.append(channel_id)
            yield CheckpointReached(checkpoint=Checkpoint(value={"done": done}))
        yield CheckpointReached(checkpoint=Checkpoint(value={"done": []}))

    def groups(self) -> Iterator[GroupMembership]:
        directory = self._people(fresh=True)
        people = directory.people
        teams = self._team_ids()
        for team_id in teams:
            full = {p.principal(self.source_id) for p in people.values() if _in_team(p, team_id)}
            yield GroupMembership(group=self._team_group(team_id), members=frozenset(full))
        users = {p.principal(self.source_id) for p in people.values() if p.full_member}
        users = {u for u in users if u.startswith("user:")}
        yield GroupMembership(group=members_group(self.source_id), members=frozenset(users))
        guests = {
            p.principal(self.source_id)
            for p in people.values()
            if p.internal and p.guest and not p.deleted
        }
        guests = {g for g in guests if g.startswith("user:")}
        yield GroupMembership(group=guests_group(self.source_id), members=frozenset(guests))
        for channel in self._channels(every=True):
            members = self._members(channel, directory)
            if members is None:
                continue  # unknown membership: the group has no members, so nobody
            principals = {self._person(m, directory).principal(self.source_id) for m in members}
            yield GroupMembership(
                group=self._channel_group(channel.id), members=frozenset(principals)
            )
        if self._usergroups:
            for team_id in teams:
                page = self._api.call(
                    "usergroups.list", include_users=True, **self._team_arg(team_id)
                )
                for raw in page.get("usergroups") or []:
                    members = [str(u) for u in raw.get("users") or []]
                    principals = {
                        self._person(m, directory).principal(self.source_id) for m in members
                    }
                    yield GroupMembership(
                        group=group(self.source_id, f"usergroup:{raw['id']}"),
                        members=frozenset(principals),
                    )

    def identities(self) -> Iterator[IdentityMapping]:
        directory = self._people()
        for channel in self._channels(every=True):
            for member in self._members(channel, directory) or []:
                self._person(member, directory)
        for person in sorted(directory.people.values(), key=lambda p: p.id):
            email = person.mapped_email(self._org)
            if email is not None:
                yield IdentityMapping(account=f"account:{self.source_id}:{person.id}", email=email)

    # -- one channel -------------------------------------------------------------------------

    def _sync_channel(
        self,
        channel: Channel,
        state: dict[str, Any],
        indexed: set[str],
        context: SyncContext,
        directory: _Directory,
        names: dict[str, str | None],
    ) -> tuple[list[ChangeEvent], dict[str, Any]]:
        now = self._clock().timestamp()
        full = context.full or "hw" not in state
        high_water = float(state.get("hw") or 0.0)
        tracked: dict[str, dict[str, str]] = dict(state.get("threads") or {})
        oldest: float | None = None
        if not full:
            start = max(0.0, min(high_water, now) - self._lookback_s)
            # Back to the oldest open thread started within the horizon: one history page
            # carries the latest_reply of up to 999 threads, where polling costs a call each.
            opened = [float(ts) for ts in tracked if float(ts) >= now - self._horizon_s]
            oldest = self._window_of(min([start, *opened]))
        messages = self._history(channel.id, oldest=oldest)
        roots, plain = self._split(messages)
        access = self._access(channel)
        events: list[ChangeEvent] = []
        user_name = self._namer(directory)

        def channel_name(channel_id: str) -> str:
            return self._channel_name(channel_id, names)

        # Message windows re-read in full (``oldest`` sits on a window boundary).
        windows: dict[int, list[Message]] = {}
        for message in plain:
            windows.setdefault(self._window_of(message.ts), []).append(message)
        docs: list[SourceDocument] = []
        for start, window in sorted(windows.items()):
            window.sort(key=lambda m: float(m.ts))
            body = render(window, user_name, channel_name, with_time=True)
            title = f"#{channel.name}, {utc(start):%Y-%m-%d %H:%M} UTC"
            docs.append(self._document(channel, _window_id(channel.id, start), title, body, window))
        seen_threads: set[str] = set()
        for ts, raw in sorted(roots.items()):
            external_id = _thread_id(channel.id, ts)
            if raw.get("subtype") == "tombstone":
                tracked.pop(ts, None)
                if external_id in indexed:
                    events.append(self._deleted(external_id))
                continue
            seen_threads.add(ts)
            latest = str(raw.get("latest_reply") or ts)
            signature = version_of(str(raw.get("text") or ""), str(raw.get("edited") or ""))
            known = tracked.get(ts, {})
            recent = float(latest) >= now - self._lookback_s
            unchanged = known.get("latest") == latest and known.get("root") == signature
            if not full and unchanged and not recent and external_id in indexed:
                events.append(self._acl_event(external_id, access))
            else:
                outcome = self._thread(channel, ts, user_name, channel_name, external_id, access)
                if outcome is None:
                    tracked.pop(ts, None)
                    if external_id in indexed:
                        events.append(self._deleted(external_id))
                    continue
                if isinstance(outcome, DocumentFailed):
                    events += [self._acl_event(external_id, access), outcome]
                    continue
                docs.append(outcome)
            tracked[ts] = {"latest": latest, "root": signature}
        # Open threads started before the horizon: one replies page tells whether they moved.
        for ts in sorted(set(tracked) - seen_threads):
            if oldest is not None and float(ts) >= oldest:
                tracked.pop(ts)  # in the window yet gone from history: deleted
                if _thread_id(channel.id, ts) in indexed:
                    events.append(self._deleted(_thread_id(channel.id, ts)))
                continue
            if float(tracked[ts]["latest"]) < now - self._horizon_s:
                tracked.pop(ts)  # dormant past the horizon: found again by a full run
                continue
            events += self._poll_thread(
                channel, ts, tracked, indexed, user_name, channel_name, access, docs
            )
        known_files: dict[str, str] = dict(state.get("files") or {})
        files, file_events, file_docs = self._sync_files(
            channel, messages, indexed, context, access, user_name
        )
        events += file_events
        docs += file_docs
        # Documents of the re-read window the history no longer has.
        live = {d.external_id for d in docs} | {_thread_id(channel.id, t) for t in tracked}
        live |= {_file_id(channel.id, f) for f in files}
        settled = {e.external_id for e in events if isinstance(e, DocumentFailed | DocumentDeleted)}
        for external_id in sorted(indexed - live - settled):
            if oldest is not None and self._start_of(external_id, known_files) < oldest:
                continue
            events.append(self._deleted(external_id))
        # Files shared before the re-read range were not seen again: they stay followed.
        for file_id, shared in known_files.items():
            if oldest is not None and float(shared) < oldest and file_id not in files:
                files[file_id] = shared
        events += self._upserts(docs, context)
        acl_key = sorted(access.acl)
        if state.get("acl") != acl_key:
            # The channel became private, public or shared: documents outside the re-read
            # window take the new ACL now, not at the next permissions run.
            touched = {d.external_id for d in docs} | settled
            touched |= {e.external_id for e in events if isinstance(e, DocumentDeleted)}
            events += [self._acl_event(i, access) for i in sorted(indexed - touched)]
        horizon = now - self._horizon_s
        # Only threads with a reply within the horizon are polled later.
        tracked = {ts: t for ts, t in tracked.items() if float(t["latest"]) >= horizon}
        stamps = [float(m["ts"]) for m in messages]
        new_high = max([high_water, *stamps]) if stamps else high_water
        new_state: dict[str, Any] = {"hw": f"{new_high:.6f}", "threads": tracked, "acl": acl_key}
        if files:
            new_state["files"] = dict(sorted(files.items()))
        return events, new_state

    # -- files -------------------------------------------------------------------------------

    def _readable_files(self, messages: list[dict[str, Any]]) -> dict[str, SharedFile]:
        """Files to index by id: not deleted or hidden, and held by Slack (external files live
        in another system, under that system's permissions)."""
        found: dict[str, SharedFile] = {}
        if not self._files:
            return found
        for raw in messages:
            if raw.get("subtype") == "tombstone":
                continue
            for file in files_of(raw):
                if not file.gone and not file.external:
                    found.setdefault(file.id, file)
        return found

    def _sync_files(
        self,
        channel: Channel,
        messages: list[dict[str, Any]],
        indexed: set[str],
        context: SyncContext,
        access: ChannelAccess,
        user_name: Callable[[str], str],
    ) -> tuple[dict[str, str], list[ChangeEvent], list[SourceDocument]]:
        """The live files of ``messages`` (file id -> shared ts), their events and documents.

        A file whose metadata did not change keeps its document without a download."""
        readable = self._readable_files(messages)
        events: list[ChangeEvent] = []
        gone = {f.id for raw in messages for f in files_of(raw) if f.gone and f.id not in readable}
        for file_id in sorted(gone):
            if _file_id(channel.id, file_id) in indexed:
                events.append(self._deleted(_file_id(channel.id, file_id)))
        ids = [_file_id(channel.id, f) for f in sorted(readable)]
        versions = {} if context.full else context.indexed_versions(ids)
        live: dict[str, str] = {}
        docs: list[SourceDocument] = []
        for file_id, file in sorted(readable.items()):
            external_id = _file_id(channel.id, file_id)
            version = version_of(
                file.id, file.title, file.name, file.mimetype, str(file.size), str(file.created)
            )
            if versions.get(external_id) == version:
                live[file_id] = file.shared_ts
                events.append(self._acl_event(external_id, access))
                continue
            outcome = self._file_document(channel, file, external_id, version, access, user_name)
            if outcome is None:
                if external_id in indexed:
                    events.append(self._deleted(external_id))
                continue
            live[file_id] = file.shared_ts
            if isinstance(outcome, DocumentFailed):
                events += [self._acl_event(external_id, access), outcome]
            else:
                docs.append(outcome)
        return live, events, docs

    def _file_document(
        self,
        channel: Channel,
        file: SharedFile,
        external_id: str,
        version: str,
        access: ChannelAccess,
        user_name: Callable[[str], str],
    ) -> SourceDocument | DocumentFailed | None:
        """The file as a document; None when it is gone (404)."""

        def failed(reason: str) -> DocumentFailed:
            return DocumentFailed(
                source_id=self.source_id,
                external_id=external_id,
                reason=f"file {file.id} ({file.name}) in #{channel.name}: {reason}",
            )

        text = ""
        if file.has_text:
            if file.size is not None and file.size > self._max_file_bytes:
                return failed(
                    f"skipped: {file.size} bytes is over the {self._max_file_bytes} limit"
                )
            if file.url is None:
                return failed("no url_private")
            try:
                data = self._api.download(file.url, self._max_file_bytes)
                text = text_of(file, data)
            except FileGone:
                return None
            except FileTooLarge as exc:
                return failed(f"skipped: {exc}")
            except (SourceUnavailableError, StopRequested):
                raise
            except (ConnectorError, UnreadableFile) as exc:
                return failed(str(exc))
        body = "\n\n".join(p for p in (file.title, file.name, text) if p)
        author = user_name(file.user) if file.user else None
        return SourceDocument(
            source_id=self.source_id,
            external_id=external_id,
            title=file.title,
            body=body,
            url=file.permalink,
            author=author,
            created_at=utc(file.created),
            updated_at=utc(max(float(file.created), float(file.shared_ts))),
            doc_type="file",
            breadcrumbs=tuple(b for b in (self._team_name, f"#{channel.name}") if b),
            metadata={
                "channel": channel.id,
                "channel_name": channel.name,
                "filetype": file.filetype,
                "mimetype": file.mimetype,
            },
            version=version,
            acl=access.acl,
            acl_layers=access.layers_for(external_id),
        )

    def _poll_thread(
        self,
        channel: Channel,
        ts: str,
        tracked: dict[str, dict[str, str]],
        indexed: set[str],
        user_name: Callable[[str], str],
        channel_name: Callable[[str], str],
        access: ChannelAccess,
        docs: list[SourceDocument],
    ) -> list[ChangeEvent]:
        external_id = _thread_id(channel.id, ts)
        try:
            page = self._api.call("conversations.replies", channel=channel.id, ts=ts, limit=1)
        except ThreadGone:
            tracked.pop(ts)
            return [self._deleted(external_id)] if external_id in indexed else []
        except SlackRequestFailed as exc:
            reason = f"thread {ts} of #{channel.name}: {exc}"
            failed = DocumentFailed(
                source_id=self.source_id, external_id=external_id, reason=reason
            )
            return [self._acl_event(external_id, access), failed]
        parent = (page.get("messages") or [{}])[0]
        if parent.get("subtype") == "tombstone" or not parent.get("reply_count"):
            tracked.pop(ts)
            return [self._deleted(external_id)] if external_id in indexed else []
        latest = str(parent.get("latest_reply") or ts)
        signature = version_of(str(parent.get("text") or ""), str(parent.get("edited") or ""))
        known = tracked[ts]
        if known.get("latest") == latest and known.get("root") == signature:
            return [self._acl_event(external_id, access)]
        outcome = self._thread(channel, ts, user_name, channel_name, external_id, access)
        if outcome is None:
            tracked.pop(ts)
            return [self._deleted(external_id)] if external_id in indexed else []
        if isinstance(outcome, DocumentFailed):
            return [self._acl_event(external_id, access), outcome]
        docs.append(outcome)
        tracked[ts] = {"latest": latest, "root": signature}
        return []

    def _thread(
        self,
        channel: Channel,
        ts: str,
        user_name: Callable[[str], str],
        channel_name: Callable[[str], str],
        external_id: str,
        access: ChannelAccess,
    ) -> SourceDocument | DocumentFailed | None:
        """The whole thread as a document; None when its parent is gone."""
        try:
            raw: list[dict[str, Any]] = []
            for page in self._api.pages(
                "conversations.replies", "messages", channel=channel.id, ts=ts, limit=200
            ):
                # The parent leads every page.
                raw += [m for m in page if not (raw and m.get("ts") == ts)]
        except ThreadGone:
            return None
        except SlackRequestFailed as exc:
            reason = f"thread {ts} of #{channel.name}: {exc}"
            return DocumentFailed(source_id=self.source_id, external_id=external_id, reason=reason)
        if not raw or raw[0].get("subtype") == "tombstone":
            return None
        messages = [Message.of(m) for m in raw if m.get("subtype") not in _NOISE]
        body = render(messages, user_name, channel_name, with_time=False)
        opening = plain_text(messages[0].text, user_name, channel_name)
        title = f"#{channel.name}: {first_line(opening) or 'thread'}"
        return self._document(channel, external_id, title, body, messages)

    def _document(
        self,
        channel: Channel,
        external_id: str,
        title: str,
        body: str,
        messages: Sequence[Message],
    ) -> SourceDocument:
        first = messages[0]
        updated = max(m.changed_at for m in messages)
        access = self._access(channel)
        return SourceDocument(
            source_id=self.source_id,
            external_id=external_id,
            title=title,
            body=body,
            url=f"{self._team_url}archives/{channel.id}/p{first.ts.replace('.', '')}"
            if self._team_url
            else None,
            created_at=utc(first.ts),
            updated_at=utc(updated),
            doc_type="chat",
            breadcrumbs=tuple(b for b in (self._team_name, f"#{channel.name}") if b),
            metadata={"channel": channel.id, "channel_name": channel.name},
            version=version_of(title, body),
            acl=access.acl,
            acl_layers=access.layers_for(external_id),
        )

    def _upserts(self, docs: list[SourceDocument], context: SyncContext) -> list[ChangeEvent]:
        versions = {} if context.full else context.indexed_versions([d.external_id for d in docs])
        events: list[ChangeEvent] = []
        for doc in docs:
            if versions.get(doc.external_id) == doc.version:
                events.append(
                    PermissionsChanged(
                        source_id=self.source_id,
                        external_id=doc.external_id,
                        acl=doc.acl,
                        acl_layers=doc.acl_layers,
                    )
                )
            else:
                events.append(DocumentUpserted(document=doc))
        return events

    # -- reading Slack -----------------------------------------------------------------------

    def _identify(self) -> dict[str, Any]:
        who = self._api.call("auth.test")
        self._team_url = str(who.get("url") or "")
        self._team_name = str(who.get("team") or "")
        if not self._teams:
            self._teams = (str(who["team_id"]),)
        return who

    def _team_ids(self) -> tuple[str, ...]:
        if not self._teams:
            self._identify()
        return self._teams

    def _team_arg(self, team_id: str) -> dict[str, str]:
        # team_id is for org-wide (Grid) tokens; a workspace token reads its own workspace.
        return {"team_id": team_id} if self._teams_configured else {}

    def _channels(self, *, every: bool = False) -> list[Channel]:
        """Every channel to index (the scope's alone in a scope run, unless ``every``), or an
        exception: a partial list must never look complete."""
        if not self._team_url:
            self._identify()
        if self._only is not None and not every:
            return self._scope_channel(self._only)
        return self._walk_channels()

    def _scope_channel(self, channel_id: str) -> list[Channel]:
        """The scope's channel as the walk would list it, or none."""
        if self._teams_configured:
            # An org-wide (Grid) token: which configured workspace's listing holds a channel
            # (its team is in the ACL) only the walk says.
            walked = self._walk_channels()
            self._walked = {c.id: c.name for c in walked}
            return [c for c in walked if c.id == channel_id]
        found = self._channel_info(channel_id)
        return [found] if found is not None and self._wanted(found) else []

    def _channel_info(self, channel_id: str) -> Channel | None:
        """A workspace token's channel, as ``conversations.list`` describes it; None when gone."""
        try:
            page = self._api.call("conversations.info", channel=channel_id)
        except ChannelGone:
            return None
        raw = page.get("channel") or {}
        if not raw.get("id") or raw.get("is_im"):
            return None
        return Channel.of(raw, self._team_ids()[0])

    def _channel_name(self, channel_id: str, names: dict[str, str | None]) -> str:
        """A mentioned channel's name when it is one the connector indexes, else its id, as the
        walk names them; a scope run looks the others up once each."""
        if channel_id not in names:
            names[channel_id] = None
            if self._walked is not None:
                names[channel_id] = self._walked.get(channel_id)
            elif self._only is not None:
                try:
                    found = self._channel_info(channel_id)
                except SlackRequestFailed:
                    found = None
                if found is not None and self._wanted(found):
                    names[channel_id] = found.name
        return names[channel_id] or channel_id

    def _walk_channels(self) -> list[Channel]:
        types = "public_channel,private_channel" + (",mpim" if self._group_dms else "")
        found: dict[str, Channel] = {}
        for team_id in self._team_ids():
            for page in self._api.pages(
                "conversations.list",
                "channels",
                types=types,
                exclude_archived=self._archived == "drop",
                limit=200,
                **self._team_arg(team_id),
            ):
                for raw in page:
                    channel = Channel.of(raw, team_id)
                    if self._wanted(channel):
                        found[channel.id] = channel
        return sorted(found.values(), key=lambda c: c.id)

    def _wanted(self, channel: Channel) -> bool:
        if not channel.bot_is_member:
            return False  # history needs membership (not_in_channel)
        if channel.archived and self._archived == "drop":
            return False
        if channel.mpim and not self._group_dms:
            return False
        if channel.id in self._deny or channel.name in self._deny:
            return False
        return not self._allow or channel.id in self._allow or channel.name in self._allow

    def _history(self, channel_id: str, oldest: float | None) -> list[dict[str, Any]]:
        # 999 is the documented maximum page; fewer, larger pages spare the Tier 3 budget.
        params: dict[str, Any] = {"channel": channel_id, "limit": 999}
        if oldest is not None:
            params |= {"oldest": f"{oldest:.6f}", "inclusive": True}
        messages: list[dict[str, Any]] = []
        for page in self._api.pages("conversations.history", "messages", **params):
            messages += page
        return messages

    def _split(
        self, messages: list[dict[str, Any]]
    ) -> tuple[dict[str, dict[str, Any]], list[Message]]:
        roots: dict[str, dict[str, Any]] = {}
        plain: list[Message] = []
        for raw in messages:
            ts = str(raw["ts"])
            if raw.get("reply_count") or raw.get("subtype") == "tombstone":
                roots[ts] = raw
            elif raw.get("subtype") not in _NOISE:
                plain.append(Message.of(raw))
        return roots, plain

    def _members(self, channel: Channel, directory: _Directory) -> list[str] | None:
        if channel.id in directory.members:
            return directory.members[channel.id]
        members: list[str] | None = []
        try:
            for page in self._api.pages(
                "conversations.members", "members", channel=channel.id, limit=200
            ):
                assert members is not None
                members += [str(m) for m in page]
        except SlackRequestFailed:
            members = None
        directory.members[channel.id] = members
        return members

    def _people(self, *, fresh: bool = False, lazy: bool = False) -> _Directory:
        """The workspace's people; ``lazy``: none yet, each looked up as it occurs."""
        now = time.monotonic()
        cached = self._directory
        if cached is not None and not fresh and now - cached.made < _DIRECTORY_TTL_S:
            return cached
        if lazy:
            return _Directory(people={}, made=now)
        teams = self._team_ids()
        people: dict[str, Person] = {}
        for team_id in teams:
            for page in self._api.pages(
                "users.list", "members", limit=200, **self._team_arg(team_id)
            ):
                for raw in page:
                    person = Person.of(raw, teams)
                    people[person.id] = person
        self._directory = _Directory(people=people, made=now)
        return self._directory

    def _person(self, user_id: str, directory: _Directory) -> Person:
        """A member users.list did not show (a Slack Connect external): looked up once."""
        known = directory.people.get(user_id)
        if known is not None:
            return known
        try:
            raw = self._api.call("users.info", user=user_id).get("user") or {}
            person = Person.of(raw, self._team_ids()) if raw.get("id") else None
        except SlackRequestFailed:
            person = None
        if person is None:
            person = Person(user_id, "", user_id, None, False, False, False, False)
        directory.people[user_id] = person
        return person

    def _namer(self, directory: _Directory) -> Callable[[str], str]:
        def name(user_id: str) -> str:
            return self._person(user_id, directory).name

        return name

    # -- ACLs and ids ------------------------------------------------------------------------

    def _access(self, channel: Channel) -> ChannelAccess:
        return channel_access(self.source_id, channel)

    def _channel_group(self, channel_id: str) -> str:
        return channel_group(self.source_id, channel_id)

    def _team_group(self, team_id: str) -> str:
        return team_group(self.source_id, team_id)

    def _acl_event(self, external_id: str, access: ChannelAccess) -> PermissionsChanged:
        return PermissionsChanged(
            source_id=self.source_id,
            external_id=external_id,
            acl=access.acl,
            acl_layers=access.layers_for(external_id),
        )

    def _deleted(self, external_id: str) -> DocumentDeleted:
        return DocumentDeleted(source_id=self.source_id, external_id=external_id)

    def _indexed_by_channel(self, context: SyncContext) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for external_id in context.indexed_ids():
            channel_id = self.scope_of(external_id)
            # A scope run speaks for its channel only, whatever else a context yields.
            if self._only is None or channel_id == self._only:
                found.setdefault(channel_id, set()).add(external_id)
        return found

    def _start_of(self, external_id: str, files: Mapping[str, str]) -> float:
        """When a document's content starts: its thread or window, or its file's sharing."""
        _, kind, key = external_id.split("/", 2)
        if kind == "file":
            # A file not followed yet counts as outside the range: a full run settles it.
            return float(files.get(key, "0"))
        return float(key)

    def _window_of(self, ts: str | float) -> int:
        value = int(float(ts))
        return value - value % self._window_s


def _in_team(person: Person, team_id: str) -> bool:
    return person.full_member and person.team_id == team_id


def _thread_id(channel_id: str, ts: str) -> str:
    return f"{channel_id}/thread/{ts}"


def _window_id(channel_id: str, start: int) -> str:
    return f"{channel_id}/window/{start}"


def _file_id(channel_id: str, file_id: str) -> str:
    return f"{channel_id}/file/{file_id}"


def from_settings(
    settings: SlackSettings, org: OrgPolicy, clock: Callable[[], datetime]
) -> SlackConnector:
    gateway = SlackGateway(settings.bot_token.get_secret_value(), base_url=settings.base_url)
    return SlackConnector(
        source_id=settings.id,
        gateway=gateway,
        org=org,
        clock=clock,
        team_ids=settings.team_ids,
        channels=settings.channels,
        exclude_channels=settings.exclude_channels,
        archived=settings.archived,
        group_dms=settings.group_dms,
        usergroups=settings.usergroups,
        lookback_days=settings.lookback_days,
        thread_horizon_days=settings.thread_horizon_days,
        window_hours=settings.window_hours,
        files=settings.files,
        max_file_bytes=settings.max_file_bytes,
    )
