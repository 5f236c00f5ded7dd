"""Configuration of one Confluence Cloud site, as the composition root reads it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.registry import SourceSettings
from connectors.secrets import Secret


class ApiTokenAuth(BaseModel):
    """An Atlassian API token and the email of the account it belongs to (HTTP Basic)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str
    api_token: Secret


class OAuthAuth(BaseModel):
    """An OAuth 2.0 (3LO) access token, sent as a bearer token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bearer_token: Secret


ContentType = Literal["page", "blogpost"]


class ConfluenceSourceConfig(SourceSettings):
    type: Literal["confluence"] = "confluence"
    # The site, e.g. https://acme.atlassian.net (the /wiki context is added by the gateway).
    base_url: str
    auth: ApiTokenAuth | OAuthAuth
    # Space keys. An empty allow list means every space the account can read.
    spaces_allow: frozenset[str] = frozenset()
    spaces_deny: frozenset[str] = frozenset()
    content_types: frozenset[ContentType] = frozenset({"page", "blogpost"})
    # Footer and inline comments as a trailing section of their page (docs say why).
    comments: Literal["include", "exclude"] = "include"
    # CQL ``lastmodified`` has minute precision and the reported times do not always match the
    # filter: every incremental window starts this far before the newest change already seen.
    overlap_minutes: int = Field(default=60, ge=1)
    page_size: int = Field(default=100, ge=1, le=250)
    request_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _some_content(self) -> ConfluenceSourceConfig:
        if not self.content_types:
            raise ValueError("content_types must name page, blogpost or both")
        return self
