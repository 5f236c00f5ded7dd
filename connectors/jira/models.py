"""The parts of Jira's REST v3 payloads the connector reads, validated where they enter.

Unknown fields are ignored (the API adds fields); a missing field the connector needs fails
validation, which the gateway turns into a failed request rather than a guess.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class UserRef(_Payload):
    account_id: str = Field(alias="accountId")
    display_name: str | None = Field(default=None, alias="displayName")
    email: str | None = Field(default=None, alias="emailAddress")
    account_type: str | None = Field(default=None, alias="accountType")
    active: bool = True


class Project(_Payload):
    id: str
    key: str
    name: str = ""
    lead: UserRef | None = None


class Holder(_Payload):
    """A permission holder (scheme grant or security level member): ``type`` + ``value``."""

    type: str
    value: str | None = None
    parameter: str | None = None


class Grant(_Payload):
    permission: str
    holder: Holder


class PermissionScheme(_Payload):
    id: int | None = None
    name: str = ""
    permissions: tuple[Grant, ...] = ()


class ActorUser(_Payload):
    account_id: str = Field(alias="accountId")


class ActorGroup(_Payload):
    group_id: str | None = Field(default=None, alias="groupId")


class RoleActor(_Payload):
    type: str | None = None
    actor_user: ActorUser | None = Field(default=None, alias="actorUser")
    actor_group: ActorGroup | None = Field(default=None, alias="actorGroup")


class ProjectRole(_Payload):
    id: int | None = None
    actors: tuple[RoleActor, ...] = ()


class LevelMember(_Payload):
    holder: Holder


class GroupRef(_Payload):
    group_id: str | None = Field(default=None, alias="groupId")
    name: str = ""


class ApplicationRole(_Payload):
    key: str
    group_details: tuple[GroupRef, ...] = Field(default=(), alias="groupDetails")


class Issue(_Payload):
    id: str
    # Absent from id-only searches (the default ``fields`` of search/jql is ``id``).
    key: str = ""
    fields: dict[str, Any] = Field(default_factory=dict)
