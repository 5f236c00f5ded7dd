"""A conversation the connector indexes, as ``conversations.list`` and ``conversations.info``
describe it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    team_id: str
    private: bool
    mpim: bool
    archived: bool
    ext_shared: bool
    bot_is_member: bool

    @classmethod
    def of(cls, raw: Mapping[str, Any], team_id: str) -> Channel:
        return cls(
            id=str(raw["id"]),
            name=str(raw.get("name") or raw["id"]),
            team_id=str(raw.get("context_team_id") or team_id),
            private=bool(raw.get("is_private") or raw.get("is_group")),
            mpim=bool(raw.get("is_mpim")),
            archived=bool(raw.get("is_archived")),
            ext_shared=bool(raw.get("is_ext_shared")),
            bot_is_member=bool(raw.get("is_member")),
        )
