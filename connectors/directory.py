"""Group memberships and identity mappings a source reports, for retrieval's identity resolution."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from connectors.principals import Principal, normalise_email


class GroupMembership(BaseModel):
    """``group`` directly contains ``members``: users, accounts or other (nested) groups."""

    model_config = ConfigDict(frozen=True)

    group: Principal
    members: frozenset[Principal]

    @field_validator("group")
    @classmethod
    def _is_group(cls, value: str) -> str:
        if not value.startswith("group:"):
            raise ValueError(f"membership must name a group principal, got {value!r}")
        return value


class IdentityMapping(BaseModel):
    """The source account ``account:<source>:<id>`` belongs to the person with ``email``."""

    model_config = ConfigDict(frozen=True)

    account: Principal
    email: str

    @field_validator("account")
    @classmethod
    def _is_account(cls, value: str) -> str:
        if not value.startswith("account:"):
            raise ValueError(f"identity mapping must name an account principal, got {value!r}")
        return value

    @field_validator("email")
    @classmethod
    def _normalised(cls, value: str) -> str:
        return normalise_email(value)
