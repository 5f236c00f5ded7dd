"""Slack messages as searchable text: mentions resolved to names, markup reduced to words."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_MARKUP = re.compile(r"<([^<>]+)>")


@dataclass(frozen=True)
class Message:
    """The parts of a message the documents use, from history or replies."""

    ts: str
    user: str
    text: str
    edited_ts: str | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Message:
        edited = raw.get("edited") or {}
        return cls(
            ts=str(raw["ts"]),
            user=str(raw.get("user") or raw.get("bot_id") or raw.get("username") or "unknown"),
            text=str(raw.get("text") or ""),
            edited_ts=str(edited["ts"]) if isinstance(edited, dict) and edited.get("ts") else None,
        )

    @property
    def changed_at(self) -> float:
        return max(float(self.ts), float(self.edited_ts or 0))


def plain_text(
    text: str, user_name: Callable[[str], str], channel_name: Callable[[str], str]
) -> str:
    """``<@U1>`` -> ``@Alice Smith``, ``<#C1|eng>`` -> ``#eng``, links to their labels."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + user_name(target[1:])
        if target.startswith("#"):
            return "#" + (label or channel_name(target[1:]))
        if target.startswith("!subteam^"):
            return label or "@group"
        if target.startswith("!"):
            return "@" + (label.lstrip("@") or target[1:].split("^", 1)[0])
        return f"{label} ({target})" if label and label != target else target

    return html.unescape(_MARKUP.sub(replace, text))


def render(
    messages: Sequence[Message],
    user_name: Callable[[str], str],
    channel_name: Callable[[str], str],
    *,
    with_time: bool,
) -> str:
    lines = []
    for message in messages:
        text = plain_text(message.text, user_name, channel_name)
        who = user_name(message.user)
        when = f"[{utc(message.ts):%H:%M}] " if with_time else ""
        lines.append(f"{when}{who}: {text}")
    return "\n".join(lines)


def utc(ts: str | float) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)


def version_of(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()
    return digest[:32]


def first_line(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
