"""Who is who in the workspace: members, guests, bots and Slack Connect externals as principals.

- a full member (not a guest, bot or deleted account) of a configured workspace with an email is
  ``user:<email>``;
- everyone else (externals, bots, members without an email) stays ``account:<source>:<U>``; an
  external's email maps to that account only when the address is outside the organisation's
  domains: another organisation's admin sets its members' emails, and one claiming an address
  here must not get that person's access (or give them the channel's);
- guests (``is_restricted``, ``is_ultra_restricted``) are never in a workspace group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from connectors.org import OrgPolicy
from connectors.principals import InvalidPrincipalError, account, normalise_email, user


@dataclass(frozen=True)
class Person:
    id: str
    team_id: str
    name: str
    email: str | None
    internal: bool
    guest: bool
    bot: bool
    deleted: bool

    @property
    def full_member(self) -> bool:
        return self.internal and not (self.guest or self.bot or self.deleted)

    @classmethod
    def of(cls, raw: dict[str, Any], teams: Iterable[str]) -> Person:
        profile = raw.get("profile") or {}
        email: str | None = None
        if profile.get("email"):
            try:
                email = normalise_email(str(profile["email"]))
            except InvalidPrincipalError:
                email = None  # an address that only looks like one names nobody
        name = (
            profile.get("real_name")
            or raw.get("real_name")
            or profile.get("display_name")
            or raw.get("name")
            or str(raw["id"])
        )
        team_id = str(raw.get("team_id") or raw.get("team") or profile.get("team") or "")
        return cls(
            id=str(raw["id"]),
            team_id=team_id,
            name=str(name),
            email=email,
            internal=team_id in set(teams) and not raw.get("is_stranger"),
            guest=bool(raw.get("is_restricted") or raw.get("is_ultra_restricted")),
            bot=bool(raw.get("is_bot") or raw.get("is_app_user")) or raw["id"] == "USLACKBOT",
            deleted=bool(raw.get("deleted")),
        )

    def principal(self, source_id: str) -> str:
        """This person in an ACL group: their email when it can be trusted, else the account."""
        if self.internal and not self.bot and not self.deleted and self.email is not None:
            return user(self.email)
        return account(source_id, self.id)

    def mapped_email(self, org: OrgPolicy) -> str | None:
        """The email their account maps to for identity resolution, if any may be trusted."""
        if self.email is None or self.bot or self.deleted:
            return None
        if not self.internal and org.includes_email(self.email):
            return None
        return self.email
