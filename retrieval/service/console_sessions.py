"""Browser sessions of the operator console.

The browser holds only a random session id (an HttpOnly, SameSite=Strict cookie); the admin key
it was opened with stays in this process and is verified again on every request, so revoking
the key ends its sessions at once. Each session carries its own CSRF token for form posts.
Sessions live in memory: a restarted service asks operators to log in again."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented, expected)


@dataclass
class ConsoleSession:
    session_id: str
    api_key: str = field(repr=False)
    csrf: str = field(repr=False)
    created: float
    seen: float


class SessionStore:
    """Bounded: past ``max_sessions`` the least recently used session is dropped."""

    def __init__(
        self,
        *,
        idle_s: float = 30 * 60,
        max_age_s: float = 8 * 3600,
        max_sessions: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self.max_sessions = max_sessions
        self.clock = clock
        self._sessions: OrderedDict[str, ConsoleSession] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, api_key: str) -> ConsoleSession:
        now = self.clock()
        session = ConsoleSession(
            session_id=new_token(), api_key=api_key, csrf=new_token(), created=now, seen=now
        )
        with self._lock:
            self._sessions[session.session_id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> ConsoleSession | None:
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.seen > self.idle_s or now - session.created > self.max_age_s:
                del self._sessions[session_id]
                return None
            session.seen = now
            self._sessions.move_to_end(session_id)
            return session

    def drop(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)
