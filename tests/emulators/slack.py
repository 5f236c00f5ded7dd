"""A Slack Web API emulator on the base: ``auth.test`` and ``api.test`` so far.

Answers as Slack does (https://docs.slack.dev/apis/web-api/): every method under ``/api/``,
arguments from the query string, a form body or a JSON body, the token as a Bearer header or a
``token`` argument, errors as HTTP 200 with ``ok: false`` (only rate limits change the status:
429 with Retry-After in integer seconds).

Checked against ``slack_web_openapi_v2.json`` (slackapi/slack-api-specs v1.7.0), which is frozen
since 2020 and older than slack-sdk; where they differ the emulator follows the live API and the
adaptation is written down here (see ``SLACK_SPEC_LAGS`` and the ``spec_*`` methods).
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.base import ApiRequest, ApiResponse, Emulator, Handler
from tests.emulators.spec import OpenAPIDocument, Operation, SpecLags, SpecRequest

SLACK_SPEC = "slack_web_openapi_v2.json"

# Arguments today's API and slack-sdk take that the 2020 document lacks (shared/briefs/saas-apis.md
# section 2): org-wide Enterprise Grid tokens need team_id; message metadata came in 2022.
SLACK_SPEC_LAGS = SpecLags(
    params={
        "conversations_list": {"team_id": {"type": "string"}},
        "users_list": {"team_id": {"type": "string"}},
        "usergroups_list": {"team_id": {"type": "string"}},
        "users_conversations": {"team_id": {"type": "string"}},
        "conversations_history": {"include_all_metadata": {"type": "boolean"}},
        "conversations_replies": {"include_all_metadata": {"type": "boolean"}},
    }
)

_METHOD_PATH = re.compile(r"/api/([A-Za-z0-9_.]+)\Z")
_ID_CHARS = string.ascii_uppercase + string.digits


@dataclass
class SlackIdentity:
    user: str
    user_id: str
    bot_id: str | None = None


@dataclass
class SlackWorkspace:
    team_id: str
    team: str
    url: str
    tokens: dict[str, SlackIdentity] = field(default_factory=dict)
    bot_token: str = ""
    user_token: str = ""


class SlackEmulator(Emulator):
    document = OpenAPIDocument.named(SLACK_SPEC, lags=SLACK_SPEC_LAGS)
    state: SlackWorkspace

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
        team.tokens[team.bot_token] = SlackIdentity(
            user="permindex", user_id=slack_id("U", 8), bot_id=slack_id("B", 10)
        )
        team.tokens[team.user_token] = SlackIdentity(user="grace", user_id=slack_id("W", 8))
        return team

    def default_handlers(self) -> dict[str, Handler]:
        return {"auth.test": self.auth_test, "api.test": self.api_test}

    def route_of(self, method: str, path: str) -> str | None:
        match = _METHOD_PATH.match(path)
        return match.group(1) if match else None

    def token_known(self, token: str) -> bool:
        return token in self.state.tokens

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
        if isinstance(response.body, dict) and response.body.get("ok") is False:
            return "default"
        return None


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
