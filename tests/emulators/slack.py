"""A Slack Web API emulator on the base: the methods a permission-aware connector reads.

Answers as Slack does (https://docs.slack.dev/apis/web-api/): every method under ``/api/``,
arguments from the query string, a form body or a JSON body, the token as a Bearer header or a
``token`` argument, errors as HTTP 200 with ``ok: false`` (only rate limits change the status:
429 with Retry-After in integer seconds). Methods: ``auth.test``, ``api.test``, ``team.info``,
``conversations.list/history/replies/members/info``, ``users.list/info``, ``usergroups.list`` and
``usergroups.users.list``, with cursor pagination and per-method tier limits (``tier_limits``).
Files shared in messages appear as ``files`` (``objs_file``) and are served at their
``url_private`` (``/files-pri/<T>-<F>/<name>``, the bot token as a Bearer header); that download
is not a Web API method and no document states it, so it is left unchecked.

Checked against ``slack_web_openapi_v2.json`` (slackapi/slack-api-specs v1.7.0), which is frozen
since 2020 and older than slack-sdk; where they differ the emulator follows the live API and the
adaptation is written down here (``SLACK_SPEC_LAGS``, ``_extend_for_live_api`` and the
``spec_*`` methods).
"""

from __future__ import annotations

import base64
import math
import random
import re
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.base import ApiRequest, ApiResponse, Emulator, Handler
from tests.emulators.spec import OpenAPIDocument, Operation, SpecLags, SpecRequest

SLACK_SPEC = "slack_web_openapi_v2.json"

# Arguments today's API and slack-sdk take that the 2020 document lacks (shared/briefs/saas-apis.md
# section 2): org-wide Enterprise Grid tokens need team_id; message metadata came in 2022;
# usergroups.users.list takes team_id since Grid (slack-sdk sends it when given).
SLACK_SPEC_LAGS = SpecLags(
    params={
        "conversations_list": {"team_id": {"type": "string"}},
        "users_list": {"team_id": {"type": "string"}},
        "usergroups_list": {"team_id": {"type": "string"}},
        "usergroups_users_list": {"team_id": {"type": "string"}},
        "users_conversations": {"team_id": {"type": "string"}},
        "conversations_history": {"include_all_metadata": {"type": "boolean"}},
        "conversations_replies": {"include_all_metadata": {"type": "boolean"}},
    }
)

# The methods this emulator answers beyond auth.test and api.test, with their documented rate
# tier (docs.slack.dev/reference/methods/*): the default per-minute limits of ``tier_limits``.
METHOD_TIERS = {
    "conversations.list": 2,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.members": 4,
    "conversations.info": 3,
    "users.list": 2,
    "users.info": 4,
    "usergroups.list": 2,
    "usergroups.users.list": 2,
    "team.info": 3,
}
TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}

_METHOD_PATH = re.compile(r"/api/([A-Za-z0-9_.]+)\Z")
_FILE_PATH = re.compile(r"/files-pri/[A-Z0-9]+-(F[A-Z0-9]+)/[^/]+\Z")
FILE_ROUTE = "files.download"
_ID_CHARS = string.ascii_uppercase + string.digits
_MESSAGE_PATHS = (
    ("definitions", "objs_message", "properties"),
    (
        "paths",
        "/conversations.replies",
        "get",
        "responses",
        "200",
        "schema",
        "properties",
        "messages",
        "items",
        "items",
        0,
        "properties",
    ),
    (
        "paths",
        "/conversations.replies",
        "get",
        "responses",
        "200",
        "schema",
        "properties",
        "messages",
        "items",
        "items",
        1,
        "properties",
    ),
)


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def _extend_for_live_api(document: OpenAPIDocument) -> OpenAPIDocument:
    """Extend the 2020 document where today's API answers more (saas-apis.md section 2).

    Additions only, each naming the live behaviour it admits; nothing documented is relaxed
    beyond what the live API does.
    """
    raw = document.document
    edited = {
        "type": "object",
        "additionalProperties": False,
        "required": ["user", "ts"],
        "properties": {
            "user": {"$ref": "#/definitions/defs_user_id"},
            "ts": {"$ref": "#/definitions/defs_ts"},
        },
    }
    for path in _MESSAGE_PATHS:
        properties = _at(raw, path)
        # An edited message carries ``edited`` (docs.slack.dev "Message object"), absent in 2020.
        properties.setdefault("edited", edited)
        # A deleted thread parent stays as subtype "tombstone" (replies' schema lacks subtype).
        properties.setdefault("subtype", {"type": "string"})
        # Replies carry their files as history messages do; the replies schema omits them.
        properties.setdefault("files", raw["definitions"]["objs_message"]["properties"]["files"])
    cursor_metadata = {
        "type": "object",
        "additionalProperties": False,
        "required": ["next_cursor"],
        "properties": {"next_cursor": {"type": "string"}},
    }
    for method in ("/conversations.history", "/conversations.replies"):
        schema = raw["paths"][method]["get"]["responses"]["200"]["schema"]
        # Cursor pagination came to history and replies after the document: the live API sends
        # response_metadata.next_cursor there, which slack-sdk follows.
        schema["properties"].setdefault("response_metadata", cursor_metadata)
        # An empty window (``oldest`` past the last message) answers ``messages: []`` live.
        schema["properties"]["messages"].pop("minItems", None)
    for method in METHOD_TIERS:
        operation = raw["paths"][f"/{method}"]["get"]
        errors = operation["responses"]["default"]["schema"]["properties"]["error"]["enum"]
        # Every method answers token_revoked and missing_scope live; history, replies and
        # members answer not_in_channel for a conversation the bot is not in.
        for code in ("token_revoked", "missing_scope", "not_in_channel"):
            if code not in errors:
                errors.append(code)
        # Rate limits (429 + Retry-After, body ok:false/ratelimited) are not in the document.
        operation["responses"].setdefault(
            "429",
            {
                "description": "Rate limited (docs.slack.dev/apis/web-api/rate-limits)",
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["ok", "error"],
                    "properties": {
                        "ok": {"$ref": "#/definitions/defs_ok_false"},
                        "error": {"enum": ["ratelimited"], "type": "string"},
                    },
                },
            },
        )
    return document


@dataclass
class SlackIdentity:
    user: str
    user_id: str
    bot_id: str | None = None


@dataclass
class SlackUser:
    id: str
    team_id: str
    name: str
    real_name: str
    email: str | None = None
    is_bot: bool = False
    deleted: bool = False
    # Multi-channel (restricted) and single-channel (ultra restricted) guests.
    is_restricted: bool = False
    is_ultra_restricted: bool = False


@dataclass
class SlackFile:
    id: str
    user: str
    name: str
    title: str
    mimetype: str
    filetype: str
    content: bytes
    created: int
    is_external: bool = False
    # "tombstone" once deleted (the message keeps the id), "hidden_by_limit" on free plans.
    mode: str = "hosted"
    # A status the download answers with instead of the bytes (tests of failing downloads).
    fail_status: int | None = None


@dataclass
class SlackMessage:
    ts: str
    user: str
    text: str
    edited_ts: str | None = None
    tombstone: bool = False
    replies: list[SlackMessage] = field(default_factory=list)
    files: list[SlackFile] = field(default_factory=list)


@dataclass
class SlackChannel:
    id: str
    name: str
    team_id: str
    is_private: bool = False
    is_mpim: bool = False
    is_archived: bool = False
    # Slack Connect: shared with another organisation's workspace.
    is_ext_shared: bool = False
    connected_team_ids: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    messages: list[SlackMessage] = field(default_factory=list)
    created: int = 1_600_000_000


@dataclass
class SlackUsergroup:
    id: str
    team_id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)


@dataclass
class SlackWorkspace:
    team_id: str
    team: str
    url: str
    tokens: dict[str, SlackIdentity] = field(default_factory=dict)
    bot_token: str = ""
    user_token: str = ""
    domain: str = "permindex-emulated"
    users: dict[str, SlackUser] = field(default_factory=dict)
    channels: dict[str, SlackChannel] = field(default_factory=dict)
    usergroups: dict[str, SlackUsergroup] = field(default_factory=dict)
    serial: int = 0

    @property
    def bot_user_id(self) -> str:
        return self.tokens[self.bot_token].user_id


class SlackEmulator(Emulator):
    document = _extend_for_live_api(OpenAPIDocument.named(SLACK_SPEC, lags=SLACK_SPEC_LAGS))
    state: SlackWorkspace

    def __init__(
        self,
        *,
        seed: int = 0,
        validate: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Per-method limits per minute; empty: unlimited (tests opt in, e.g. METHOD_TIERS).
        self.tier_limits: dict[str, int] = {}
        self._served: dict[str, list[float]] = {}
        # (method, channel) of every authenticated call naming a conversation, answered or not.
        self.channel_calls: list[tuple[str, str]] = []
        self.clock = clock
        super().__init__(seed=seed, validate=validate)

    def seed_state(self, rng: random.Random) -> SlackWorkspace:
        def slack_id(prefix: str, length: int) -> str:
            return prefix + "".join(rng.choice(_ID_CHARS) for _ in range(length))

        def secret(prefix: str) -> str:
            return prefix + "-" + "-".join(str(rng.randrange(10**12)) for _ in range(3))

        team = SlackWorkspace(
            team_id=slack_id("T", 8),
            team="Permindex Emulated",
            url="https://permindex-emulated.slack.com/",
        )
        team.bot_token = secret("xoxb")
        team.user_token = secret("xoxp")
        bot = SlackIdentity(user="permindex", user_id=slack_id("U", 8), bot_id=slack_id("B", 10))
        team.tokens[team.bot_token] = bot
        team.tokens[team.user_token] = SlackIdentity(user="grace", user_id=slack_id("W", 8))
        team.users[bot.user_id] = SlackUser(
            id=bot.user_id,
            team_id=team.team_id,
            name="permindex",
            real_name="permindex",
            is_bot=True,
        )
        return team

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.tier_limits = {}
            self._served = {}
            self.channel_calls = []

    def channels_called(self, method: str) -> list[str]:
        """The conversations ``method`` was called for, in order."""
        with self.lock:
            return [channel for name, channel in self.channel_calls if name == method]

    def clear_faults(self) -> None:
        """Drop injected faults, keeping the workspace as the test made it."""
        with self.lock:
            self._faults.clear()

    def default_handlers(self) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {
            "auth.test": self.auth_test,
            "api.test": self.api_test,
            FILE_ROUTE: self.file_download,
        }
        methods: dict[str, Callable[[dict[str, str]], ApiResponse]] = {
            "team.info": self.team_info,
            "conversations.list": self.conversations_list,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
            "conversations.members": self.conversations_members,
            "conversations.info": self.conversations_info,
            "users.list": self.users_list,
            "users.info": self.users_info,
            "usergroups.list": self.usergroups_list,
            "usergroups.users.list": self.usergroups_users_list,
        }
        for name, method in methods.items():
            handlers[name] = self._authenticated(name, method)
        return handlers

    def route_of(self, method: str, path: str) -> str | None:
        if _FILE_PATH.match(path):
            return FILE_ROUTE
        match = _METHOD_PATH.match(path)
        return match.group(1) if match else None

    def spec_document(self, request: ApiRequest) -> OpenAPIDocument | None:
        # A file download is a plain GET of bytes, outside the Web API's document.
        return None if request.route == FILE_ROUTE else self.document

    def token_known(self, token: str) -> bool:
        return token in self.state.tokens

    # What tests use to shape the workspace.

    def new_id(self, prefix: str) -> str:
        with self.lock:
            self.state.serial += 1
            return f"{prefix}{self.state.serial:08d}"

    def add_user(
        self,
        name: str,
        email: str | None,
        *,
        team_id: str | None = None,
        **flags: bool,
    ) -> SlackUser:
        with self.lock:
            user = SlackUser(
                id=self.new_id("U"),
                team_id=team_id or self.state.team_id,
                name=name.lower().replace(" ", "."),
                real_name=name,
                email=email,
                **flags,
            )
            self.state.users[user.id] = user
            return user

    def add_channel(self, name: str, members: list[str], **flags: Any) -> SlackChannel:
        with self.lock:
            prefix = "G" if flags.get("is_private") or flags.get("is_mpim") else "C"
            channel = SlackChannel(
                id=self.new_id(prefix), name=name, team_id=self.state.team_id, **flags
            )
            channel.members = [self.state.bot_user_id, *members]
            self.state.channels[channel.id] = channel
            return channel

    def add_usergroup(self, handle: str, users: list[str]) -> SlackUsergroup:
        with self.lock:
            group = SlackUsergroup(
                id=self.new_id("S"),
                team_id=self.state.team_id,
                handle=handle,
                name=handle.title(),
                users=list(users),
            )
            self.state.usergroups[group.id] = group
            return group

    def post(self, channel: str, user: str, text: str, ts: float) -> SlackMessage:
        with self.lock:
            message = SlackMessage(ts=_ts(ts), user=user, text=text)
            messages = self.state.channels[channel].messages
            messages.append(message)
            messages.sort(key=lambda m: float(m.ts))
            return message

    def reply(self, channel: str, root_ts: str, user: str, text: str, ts: float) -> SlackMessage:
        with self.lock:
            root = self.message(channel, root_ts)
            message = SlackMessage(ts=_ts(ts), user=user, text=text)
            root.replies.append(message)
            root.replies.sort(key=lambda m: float(m.ts))
            return message

    def message(self, channel: str, ts: str) -> SlackMessage:
        for message in self.state.channels[channel].messages:
            if message.ts == ts:
                return message
            for reply in message.replies:
                if reply.ts == ts:
                    return reply
        raise KeyError(ts)

    def share_file(
        self,
        channel: str,
        user: str,
        name: str,
        content: bytes,
        ts: float,
        *,
        mimetype: str = "text/plain",
        filetype: str = "text",
        title: str | None = None,
        text: str = "",
    ) -> SlackFile:
        """A message in ``channel`` with one uploaded file."""
        with self.lock:
            file = SlackFile(
                id=self.new_id("F"),
                user=user,
                name=name,
                title=title or name,
                mimetype=mimetype,
                filetype=filetype,
                content=content,
                created=int(ts),
            )
            message = self.post(channel, user, text, ts)
            message.files.append(file)
            return file

    def delete_file(self, file_id: str) -> None:
        """Delete as Slack does: messages keep the file's id with mode "tombstone"."""
        with self.lock:
            self.file(file_id).mode = "tombstone"

    def file(self, file_id: str) -> SlackFile:
        for channel in self.state.channels.values():
            for message in channel.messages:
                for candidate in [message, *message.replies]:
                    for file in candidate.files:
                        if file.id == file_id:
                            return file
        raise KeyError(file_id)

    def edit(self, channel: str, ts: str, text: str, at: float) -> None:
        with self.lock:
            message = self.message(channel, ts)
            message.text, message.edited_ts = text, _ts(at)

    def delete(self, channel: str, ts: str) -> None:
        """Delete as Slack does: a thread parent with replies becomes a tombstone."""
        with self.lock:
            messages = self.state.channels[channel].messages
            for message in list(messages):
                if message.ts == ts:
                    if message.replies:
                        message.tombstone, message.text = True, "This message was deleted."
                        message.user, message.edited_ts = "USLACKBOT", None
                    else:
                        messages.remove(message)
                    return
                for reply in list(message.replies):
                    if reply.ts == ts:
                        message.replies.remove(reply)
                        return
            raise KeyError(ts)

    # Methods.

    def auth_test(self, request: ApiRequest) -> ApiResponse:
        token = token_of(request)
        if token is None:
            return slack_error("not_authed")
        if not self.check_token(token):
            return slack_error("invalid_auth")
        identity = self.state.tokens[token]
        body: dict[str, Any] = {
            "ok": True,
            "url": self.state.url,
            "team": self.state.team,
            "user": identity.user,
            "team_id": self.state.team_id,
            "user_id": identity.user_id,
        }
        if identity.bot_id is not None:
            body |= {"bot_id": identity.bot_id, "is_enterprise_install": False}
        return ApiResponse(body=body)

    def api_test(self, request: ApiRequest) -> ApiResponse:
        # api.test needs no token and echoes the arguments (never the token) back under "args".
        args = {k: v for k, v in arguments(request).items() if k != "token"}
        body: dict[str, Any] = {"ok": "error" not in args}
        if "error" in args:
            body["error"] = args["error"]
        if args:
            body["args"] = args
        return ApiResponse(body=body)

    def file_download(self, request: ApiRequest) -> ApiResponse:
        token = bearer_token(request)
        if token is None or not self.check_token(token):
            # Slack redirects an unauthenticated download to its sign-in page.
            return ApiResponse(403, raw=b"<html>sign in</html>", headers=_HTML)
        match = _FILE_PATH.match(request.path)
        assert match is not None
        try:
            file = self.file(match.group(1))
        except KeyError:
            return ApiResponse(404, raw=b"<html>not found</html>", headers=_HTML)
        if file.mode != "hosted":
            return ApiResponse(404, raw=b"<html>not found</html>", headers=_HTML)
        if file.fail_status is not None:
            return ApiResponse(file.fail_status, raw=b"<html>error</html>", headers=_HTML)
        return ApiResponse(
            raw=file.content, headers={"content-type": file.mimetype or "application/octet-stream"}
        )

    def _authenticated(self, name: str, method: Callable[[dict[str, str]], ApiResponse]) -> Handler:
        def handle(request: ApiRequest) -> ApiResponse:
            token = token_of(request)
            if token is None:
                return slack_error("not_authed")
            if not self.check_token(token):
                return slack_error("invalid_auth")
            args = arguments(request)
            if "channel" in args:
                with self.lock:
                    self.channel_calls.append((name, args["channel"]))
            limited = self._over_tier(name)
            if limited is not None:
                return limited
            return method(args)

        return handle

    def _over_tier(self, name: str) -> ApiResponse | None:
        limit = self.tier_limits.get(name)
        if limit is None:
            return None
        now = self.clock()
        served = [t for t in self._served.get(name, []) if now - t < 60.0]
        if len(served) >= limit:
            self._served[name] = served
            wait = max(1, math.ceil(60.0 - (now - served[0])))
            return ApiResponse(
                429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
            )
        served.append(now)
        self._served[name] = served
        return None

    def team_info(self, args: dict[str, str]) -> ApiResponse:
        team = args.get("team") or self.state.team_id
        if team != self.state.team_id:
            return slack_error("no_permission")
        body = {
            "id": self.state.team_id,
            "name": self.state.team,
            "domain": self.state.domain,
            "email_domain": "",
            "icon": {"image_default": True},
        }
        return ApiResponse(body={"ok": True, "team": body})

    def conversations_list(self, args: dict[str, str]) -> ApiResponse:
        types = set((args.get("types") or "public_channel").split(","))
        exclude_archived = _flag(args.get("exclude_archived"))
        team_id = args.get("team_id") or self.state.team_id
        found = []
        for channel in self.state.channels.values():
            kind = (
                "mpim"
                if channel.is_mpim
                else ("private_channel" if channel.is_private else "public_channel")
            )
            if kind not in types or (exclude_archived and channel.is_archived):
                continue
            if channel.team_id != team_id:
                continue
            bot_in = self.state.bot_user_id in channel.members
            # Private channels and group DMs are listed only to members (groups:read).
            if kind != "public_channel" and not bot_in:
                continue
            found.append(self._conversation(channel))
        page, cursor = _page(found, args, default_limit=100)
        return ApiResponse(
            body={"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}
        )

    def conversations_info(self, args: dict[str, str]) -> ApiResponse:
        channel = self._readable(args.get("channel", ""))
        if channel is None:
            return slack_error("channel_not_found")
        return ApiResponse(body={"ok": True, "channel": self._conversation(channel)})

    def conversations_history(self, args: dict[str, str]) -> ApiResponse:
        channel = self._readable(args.get("channel", ""))
        if channel is None:
            return slack_error("channel_not_found")
        if self.state.bot_user_id not in channel.members:
            return slack_error("not_in_channel")
        inclusive = _flag(args.get("inclusive"))
        chosen = [
            m
            for m in channel.messages
            if _within(m.ts, args.get("oldest"), args.get("latest"), inclusive)
        ]
        chosen.reverse()  # newest first, as Slack answers
        page, cursor = _page([self._message(m, root=True) for m in chosen], args, default_limit=100)
        body: dict[str, Any] = {
            "ok": True,
            "messages": page,
            "has_more": bool(cursor),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if cursor:
            body["response_metadata"] = {"next_cursor": cursor}
        return ApiResponse(body=body)

    def conversations_replies(self, args: dict[str, str]) -> ApiResponse:
        channel = self._readable(args.get("channel", ""))
        if channel is None:
            return slack_error("channel_not_found")
        if self.state.bot_user_id not in channel.members:
            return slack_error("not_in_channel")
        root = next((m for m in channel.messages if m.ts == args.get("ts")), None)
        if root is None:
            return slack_error("thread_not_found")
        inclusive = _flag(args.get("inclusive"))
        replies = [
            self._reply(r, root)
            for r in root.replies
            if _within(r.ts, args.get("oldest"), args.get("latest"), inclusive)
        ]
        # The parent leads every page, as Slack answers; the replies are paginated after it.
        page, cursor = _page(replies, args, default_limit=100)
        body: dict[str, Any] = {
            "ok": True,
            "messages": [self._message(root, root=True, thread=True), *page],
            "has_more": bool(cursor),
        }
        if cursor:
            body["response_metadata"] = {"next_cursor": cursor}
        return ApiResponse(body=body)

    def conversations_members(self, args: dict[str, str]) -> ApiResponse:
        channel = self._readable(args.get("channel", ""))
        if channel is None:
            return slack_error("channel_not_found")
        page, cursor = _page(list(channel.members), args, default_limit=100)
        return ApiResponse(
            body={"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}
        )

    def users_list(self, args: dict[str, str]) -> ApiResponse:
        team_id = args.get("team_id") or self.state.team_id
        # A workspace's own members (guests and bots included); Slack Connect externals are
        # visible through users.info only.
        members = [self._user(u) for u in self.state.users.values() if u.team_id == team_id]
        page, cursor = _page(members, args, default_limit=0)
        return ApiResponse(
            body={
                "ok": True,
                "members": page,
                "cache_ts": int(self.clock()),
                "response_metadata": {"next_cursor": cursor},
            }
        )

    def users_info(self, args: dict[str, str]) -> ApiResponse:
        user = self.state.users.get(args.get("user", ""))
        if user is None:
            return slack_error("user_not_found")
        return ApiResponse(body={"ok": True, "user": self._user(user)})

    def usergroups_list(self, args: dict[str, str]) -> ApiResponse:
        include_users = _flag(args.get("include_users"))
        team_id = args.get("team_id") or self.state.team_id
        groups = [
            self._usergroup(g, include_users)
            for g in self.state.usergroups.values()
            if g.team_id == team_id
        ]
        return ApiResponse(body={"ok": True, "usergroups": groups})

    def usergroups_users_list(self, args: dict[str, str]) -> ApiResponse:
        group = self.state.usergroups.get(args.get("usergroup", ""))
        if group is None:
            # The document lists no "not found" code for this method; no_permission is its answer.
            return slack_error("no_permission")
        return ApiResponse(body={"ok": True, "users": list(group.users)})

    # Objects as Slack shapes them.

    def _readable(self, channel_id: str) -> SlackChannel | None:
        channel = self.state.channels.get(channel_id)
        if channel is None:
            return None
        if (
            channel.is_private or channel.is_mpim
        ) and self.state.bot_user_id not in channel.members:
            return None  # a private conversation the bot is not in does not exist for it
        return channel

    def _conversation(self, channel: SlackChannel) -> dict[str, Any]:
        return {
            "id": channel.id,
            "name": channel.name,
            "is_channel": not channel.is_private and not channel.is_mpim,
            "is_group": channel.is_private and not channel.is_mpim,
            "is_im": False,
            "is_mpim": channel.is_mpim,
            "is_private": channel.is_private or channel.is_mpim,
            "is_archived": channel.is_archived,
            "is_general": False,
            "is_shared": channel.is_ext_shared,
            "is_ext_shared": channel.is_ext_shared,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "is_member": self.state.bot_user_id in channel.members,
            "created": channel.created,
            "creator": channel.members[0],
            "context_team_id": channel.team_id,
            "shared_team_ids": [channel.team_id],
            "internal_team_ids": [],
            "connected_team_ids": list(channel.connected_team_ids),
            "num_members": len(channel.members),
        }

    def _message(
        self, message: SlackMessage, *, root: bool, thread: bool = False
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "message", "user": message.user, "text": message.text}
        body["ts"] = message.ts
        if message.tombstone:
            body["subtype"] = "tombstone"
        if message.edited_ts is not None:
            body["edited"] = {"user": message.user, "ts": message.edited_ts}
        if message.files:
            body["files"] = [self._file(f) for f in message.files]
            body["upload"] = True
        if root and (message.replies or thread):
            body["thread_ts"] = message.ts
            body["reply_count"] = len(message.replies)
            body["subscribed"] = False
            if message.replies:
                users = sorted({r.user for r in message.replies})
                body["reply_users"] = users
                body["reply_users_count"] = len(users)
                body["latest_reply"] = message.replies[-1].ts
        return body

    def _reply(self, reply: SlackMessage, root: SlackMessage) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "user": reply.user,
            "text": reply.text,
            "ts": reply.ts,
            "thread_ts": root.ts,
            "parent_user_id": root.user,
        }
        if reply.edited_ts is not None:
            body["edited"] = {"user": reply.user, "ts": reply.edited_ts}
        if reply.files:
            body["files"] = [self._file(f) for f in reply.files]
        return body

    def _file(self, file: SlackFile) -> dict[str, Any]:
        if file.mode == "tombstone":
            # A deleted file keeps only its id and mode in the messages that shared it.
            return {"id": file.id, "mode": "tombstone"}
        url = f"{self.url}/files-pri/{self.state.team_id}-{file.id}/{file.name}"
        body: dict[str, Any] = {
            "id": file.id,
            "created": file.created,
            "timestamp": file.created,
            "name": file.name,
            "title": file.title,
            "mimetype": file.mimetype,
            "filetype": file.filetype,
            "pretty_type": file.filetype.title(),
            "user": file.user,
            "editable": file.filetype in ("text", "post"),
            "size": len(file.content),
            "mode": file.mode,
            "is_external": file.is_external,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "permalink": f"{self.state.url}files/{file.user}/{file.id}/{file.name}",
        }
        if file.mode == "hosted":
            body |= {"url_private": url, "url_private_download": url + "?download=1"}
        return body

    def _user(self, user: SlackUser) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "avatar_hash": "g0000000000",
            "title": "",
            "phone": "",
            "skype": "",
            "status_text": "",
            "status_emoji": "",
            "fields": None,
            "team": user.team_id,
        }
        if user.email is not None:
            profile["email"] = user.email
        return {
            "id": user.id,
            "team_id": user.team_id,
            "name": user.name,
            "real_name": user.real_name,
            "deleted": user.deleted,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "is_restricted": user.is_restricted,
            "is_ultra_restricted": user.is_ultra_restricted,
            "is_stranger": user.team_id != self.state.team_id,
            "updated": 1_600_000_000,
            "profile": profile,
        }

    def _usergroup(self, group: SlackUsergroup, include_users: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": group.id,
            "team_id": group.team_id,
            "is_usergroup": True,
            "is_subteam": True,
            "name": group.name,
            "description": "",
            "handle": group.handle,
            "is_external": False,
            "date_create": 1_600_000_000,
            "date_update": 1_600_000_000,
            "date_delete": 0,
            "auto_type": None,
            "auto_provision": False,
            "enterprise_subteam_id": "",
            "created_by": self.state.bot_user_id,
            "updated_by": self.state.bot_user_id,
            "deleted_by": None,
            "prefs": {"channels": [], "groups": []},
            "user_count": len(group.users),
        }
        if include_users:
            body["users"] = list(group.users)
        return body

    # Slack's way of erring, and where its document and slack-sdk disagree.

    def unknown_route(self, request: ApiRequest) -> ApiResponse:
        return slack_error("unknown_method")

    def fault_response(
        self, request: ApiRequest, status: int, retry_after: str | None
    ) -> ApiResponse:
        if status == 429:
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return ApiResponse(429, {"ok": False, "error": "ratelimited"}, headers)
        return super().fault_response(request, status, retry_after)

    def spec_operation(self, request: ApiRequest) -> Operation:
        assert self.document is not None
        path = self.spec_path(request)
        template = self.document.template_of(path)
        methods = self.document.methods_of(template) if template else []
        # slack-sdk's sync WebClient POSTs every call as a form ("Intentionally ignore the
        # http_verb", base_client.py) where the document lists GET; Slack accepts both.
        method = request.method if request.method in methods or not methods else methods[0]
        return self.document.operation(method, path)

    def spec_request(self, request: ApiRequest, operation: Operation) -> SpecRequest:
        declared = {p.name: p.location for p in operation.parameters}
        params: dict[str, dict[str, str]] = {"header": dict(request.headers)}
        # Slack reads an argument wherever it comes (query, form, JSON body); the document files
        # each under one location, so each is checked where the document expects it.
        for name, value in arguments(request).items():
            params.setdefault(declared.get(name, "query"), {})[name] = value
        token = bearer_token(request)
        if token is not None and "token" in declared:
            # The document declares the token as an argument (or a "token" header); slack-sdk
            # sends "Authorization: Bearer", which Slack documents as the preferred way.
            params.setdefault(declared["token"], {})["token"] = token
        return SpecRequest(operation.method, self.spec_path(request), params)

    def spec_response_key(self, request: ApiRequest, response: ApiResponse) -> str | None:
        # Slack errs with HTTP 200 and ok:false; the document files those bodies as "default".
        body = response.body
        if response.status == 200 and isinstance(body, dict) and body.get("ok") is False:
            return "default"
        return None


_HTML = {"content-type": "text/html; charset=utf-8"}


def _ts(seconds: float) -> str:
    return f"{seconds:.6f}"


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


def _within(ts: str, oldest: str | None, latest: str | None, inclusive: bool) -> bool:
    value = float(ts)
    if oldest:
        low = float(oldest)
        if value < low or (value == low and not inclusive):
            return False
    if latest:
        high = float(latest)
        if value > high or (value == high and not inclusive):
            return False
    return True


def _page(items: list[Any], args: dict[str, str], *, default_limit: int) -> tuple[list[Any], str]:
    """One page from ``cursor`` (opaque: base64 of an offset) and ``limit``; next cursor or ""."""
    offset = 0
    if args.get("cursor"):
        offset = int(base64.b64decode(args["cursor"]).decode().removeprefix("offset:"))
    limit = int(args.get("limit") or default_limit) or len(items) or 1
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    cursor = base64.b64encode(f"offset:{offset + limit}".encode()).decode() if more else ""
    return page, cursor


def slack_error(error: str) -> ApiResponse:
    return ApiResponse(body={"ok": False, "error": error})


def arguments(request: ApiRequest) -> dict[str, str]:
    found = dict(request.query)
    found.update(request.form)
    if isinstance(request.json_body, dict):
        found.update({k: _text(v) for k, v in request.json_body.items()})
    return found


def bearer_token(request: ApiRequest) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def token_of(request: ApiRequest) -> str | None:
    return bearer_token(request) or arguments(request).get("token") or None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
