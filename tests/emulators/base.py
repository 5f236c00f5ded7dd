"""A small base for SaaS API emulators: routing, seeded state, fault injection, spec validation.

Each API is one ``Emulator`` subclass: it names its routes, builds its seeded state and answers
requests from it. The base serves it over real HTTP (``with SlackEmulator() as slack``), so the
real SDKs talk to it exactly as to the service, and checks every request and every response
against the API's official document. A violation is recorded and answered with a 500 that says
what broke, so a test cannot pass on traffic the real API would never produce or accept.

Faults are injected per route and apply before the handler (429, 5xx), around it (slow or
hanging answers) or after it (a truncated body); injected faults are not checked against the
document, since they are deliberately outside it (the Slack document has no 429 at all).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.emulators.server import serve
from tests.emulators.spec import OpenAPIDocument, Operation, SpecRequest, SpecViolation

VIOLATION_HEADER = "x-emulator-violation"
# Held requests check this often whether the emulator is closing, so shutdown is not delayed.
_PAUSE_STEP_S = 0.05


@dataclass(frozen=True)
class ApiRequest:
    """A request as handlers see it. Header names are lower-case; repeated names keep the last."""

    route: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    json_body: Any = None
    has_json_body: bool = False


@dataclass
class ApiResponse:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Non-JSON bodies (HTML error pages, downloads) bypass ``body``.
    raw: bytes | None = None

    def encoded(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


Handler = Callable[[ApiRequest], ApiResponse]


@dataclass(kw_only=True)
class Fault:
    """Applies to ``times`` matching calls (None: all of them) after letting ``after`` through."""

    times: int | None = 1
    after: int = 0


@dataclass(kw_only=True)
class RateLimited(Fault):
    """HTTP 429, with this Retry-After header value (None: no header), as the API words it."""

    retry_after: str | None = "1"


@dataclass(kw_only=True)
class ServerError(Fault):
    status: int = 503
    retry_after: str | None = None


@dataclass(kw_only=True)
class Slow(Fault):
    """A slow page: the right answer, ``seconds`` late."""

    seconds: float = 0.5


@dataclass(kw_only=True)
class Hang(Fault):
    """A response held past the client's timeout; released early when the emulator closes."""

    seconds: float = 60.0


@dataclass(kw_only=True)
class Truncated(Fault):
    """The handler's answer cut to ``keep`` of its bytes, with a matching Content-Length."""

    keep: float = 0.5


@dataclass
class _Injected:
    route: str
    fault: Fault
    seen: int = 0
    fired: int = 0

    def fires(self, route: str) -> bool:
        if self.route not in ("*", route):
            return False
        self.seen += 1
        if self.seen <= self.fault.after:
            return False
        if self.fault.times is not None and self.fired >= self.fault.times:
            return False
        self.fired += 1
        return True


@dataclass(frozen=True)
class CallRecord:
    route: str
    method: str
    status: int
    faults: tuple[str, ...]


class Emulator(ABC):
    """One API. Subclasses set ``document`` and implement routing, state and handlers."""

    document: OpenAPIDocument | None = None

    def __init__(self, *, seed: int = 0, validate: bool = True) -> None:
        self.seed = seed
        self.validate = validate
        self.lock = threading.RLock()
        self.handlers: dict[str, Handler] = dict(self.default_handlers())
        self.calls: list[CallRecord] = []
        self.violations: list[SpecViolation] = []
        self._faults: list[_Injected] = []
        self._revocations: list[list[Any]] = []
        self.revoked_tokens: set[str] = set()
        self._closing = threading.Event()
        self._stack: ExitStack | None = None
        self.url = ""
        self.state: Any = self.seed_state(random.Random(seed))
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._endpoint,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                )
            ]
        )

    # What each API provides.

    @abstractmethod
    def seed_state(self, rng: random.Random) -> Any:
        """The API's data as a fresh run finds it; deterministic for a given ``rng`` seed."""

    @abstractmethod
    def default_handlers(self) -> dict[str, Handler]:
        """Route name -> handler. Tests may replace entries of ``self.handlers``."""

    @abstractmethod
    def route_of(self, method: str, path: str) -> str | None:
        """The route name of a request path (as served, base path included), None if unknown."""

    @abstractmethod
    def token_known(self, token: str) -> bool:
        """Whether the API's state has issued ``token``."""

    def unknown_route(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(404, {"error": f"no route for {request.method} {request.path}"})

    def fault_response(
        self, request: ApiRequest, status: int, retry_after: str | None
    ) -> ApiResponse:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return ApiResponse(status, {"error": f"injected HTTP {status}"}, headers)

    def spec_operation(self, request: ApiRequest) -> Operation:
        assert self.document is not None
        return self.document.operation(request.method, self.spec_path(request))

    def spec_request(self, request: ApiRequest, operation: Operation) -> SpecRequest:
        params: dict[str, dict[str, str]] = {"query": request.query, "header": request.headers}
        if request.form:
            params["formData"] = request.form
        return SpecRequest(
            request.method,
            self.spec_path(request),
            params,
            request.json_body,
            request.has_json_body,
        )

    def spec_response_key(self, request: ApiRequest, response: ApiResponse) -> str | None:
        return None

    def spec_document(self, request: ApiRequest) -> OpenAPIDocument | None:
        """The document that states ``request``'s operation (APIs split over several documents
        override this); None leaves the exchange unchecked, for answers outside every document."""
        return self.document

    def spec_path(self, request: ApiRequest) -> str:
        base = self.document.base_path if self.document is not None else ""
        return request.path[len(base) :] if request.path.startswith(base) else request.path

    # What tests use.

    def inject(self, route: str, fault: Fault) -> None:
        """Inject ``fault`` on calls of ``route`` (``"*"``: every route)."""
        with self.lock:
            self._faults.append(_Injected(route, fault))

    def revoke_auth_after(self, calls: int, token: str | None = None) -> None:
        """Let ``calls`` more authenticated calls through, then revoke (``token`` None: any)."""
        with self.lock:
            self._revocations.append([token, calls])

    def check_token(self, token: str | None) -> bool:
        """Whether ``token`` is valid now; counts the call toward any pending revocation."""
        with self.lock:
            if not token or token in self.revoked_tokens or not self.token_known(token):
                return False
            for revocation in self._revocations:
                if revocation[0] not in (None, token):
                    continue
                if revocation[1] <= 0:
                    self.revoked_tokens.add(token)
                    return False
                revocation[1] -= 1
            return True

    def reset(self) -> None:
        """Back to the seeded state with no faults, calls or violations, between runs."""
        with self.lock:
            self.state = self.seed_state(random.Random(self.seed))
            self.handlers = dict(self.default_handlers())
            self.calls.clear()
            self.violations.clear()
            self._faults.clear()
            self._revocations.clear()
            self.revoked_tokens.clear()

    def take_violations(self) -> list[SpecViolation]:
        with self.lock:
            taken = list(self.violations)
            self.violations.clear()
            return taken

    def faults_fired(self) -> int:
        """How many injected faults have fired, counted when they fire (a held response is in
        ``calls`` only once it is sent, after the client has long given up)."""
        with self.lock:
            return sum(injected.fired for injected in self._faults)

    def calls_of(self, route: str) -> list[CallRecord]:
        with self.lock:
            return [call for call in self.calls if call.route == route]

    def __enter__(self) -> Self:
        self._closing.clear()
        self._stack = ExitStack()
        self.url = self._stack.enter_context(serve(self.app))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closing.set()
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    # Serving.

    async def _endpoint(self, http: Request) -> Response:
        request = await self._read(http)
        with self.lock:
            faults = [i.fault for i in self._faults if i.fires(request.route)]
        names = tuple(type(fault).__name__ for fault in faults)
        refusal = next((f for f in faults if isinstance(f, RateLimited | ServerError)), None)
        if refusal is not None:
            status = 429 if isinstance(refusal, RateLimited) else refusal.status
            answer = self.fault_response(request, status, refusal.retry_after)
            return self._send(request, answer, names)
        for fault in faults:
            if isinstance(fault, Slow | Hang):
                await self._pause(fault.seconds)
        answer = self._answer(request)
        truncated = next((f for f in faults if isinstance(f, Truncated)), None)
        if truncated is not None and VIOLATION_HEADER not in answer.headers:
            body = answer.encoded()
            answer = ApiResponse(
                answer.status, headers=answer.headers, raw=body[: int(len(body) * truncated.keep)]
            )
            answer.headers.setdefault("content-type", "application/json; charset=utf-8")
        return self._send(request, answer, names)

    def _answer(self, request: ApiRequest) -> ApiResponse:
        with self.lock:
            handler = self.handlers.get(request.route)
            if handler is None:
                return self.unknown_route(request)
            operation: Operation | None = None
            document = self.spec_document(request)
            if self.validate and document is not None:
                try:
                    operation = self.spec_operation(request)
                    document.validate_request(operation, self.spec_request(request, operation))
                except SpecViolation as violation:
                    return self._violated(violation)
            answer = handler(request)
            answer.headers = {k.lower(): v for k, v in answer.headers.items()}
            if answer.raw is None:
                answer.headers.setdefault("content-type", "application/json; charset=utf-8")
            if operation is not None and document is not None:
                try:
                    document.validate_response(
                        operation,
                        answer.status,
                        answer.headers,
                        answer.encoded(),
                        response_key=self.spec_response_key(request, answer),
                    )
                except SpecViolation as violation:
                    return self._violated(violation)
            return answer

    def _violated(self, violation: SpecViolation) -> ApiResponse:
        self.violations.append(violation)
        return ApiResponse(
            500,
            headers={VIOLATION_HEADER: "1", "content-type": "text/plain; charset=utf-8"},
            raw=f"emulator: {violation}".encode(),
        )

    def _send(self, request: ApiRequest, answer: ApiResponse, faults: tuple[str, ...]) -> Response:
        with self.lock:
            self.calls.append(CallRecord(request.route, request.method, answer.status, faults))
        headers = {k.lower(): v for k, v in answer.headers.items()}
        media_type = headers.pop("content-type", "application/json; charset=utf-8")
        return Response(answer.encoded(), answer.status, headers=headers, media_type=media_type)

    async def _read(self, http: Request) -> ApiRequest:
        raw = await http.body()
        content_type = http.headers.get("content-type", "").split(";")[0].strip().lower()
        form: dict[str, str] = {}
        json_body: Any = None
        has_json = False
        if content_type == "application/x-www-form-urlencoded":
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        elif content_type == "application/json" and raw:
            try:
                json_body, has_json = json.loads(raw), True
            except ValueError:
                json_body, has_json = raw.decode("utf-8", "replace"), True
        route = self.route_of(http.method, http.url.path) or ""
        return ApiRequest(
            route=route,
            method=http.method.lower(),
            path=http.url.path,
            query=dict(http.query_params),
            headers={k.lower(): v for k, v in http.headers.items()},
            form=form,
            json_body=json_body,
            has_json_body=has_json,
        )

    async def _pause(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while not self._closing.is_set() and (left := until - time.monotonic()) > 0:
            await asyncio.sleep(min(_PAUSE_STEP_S, left))
