"""Configuration of one Jira Cloud site, as the composition root reads it."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from connectors.registry import SourceSettings
from connectors.secrets import Secret


class ApiTokenAuth(BaseModel):
    """Basic auth with an Atlassian account's email and API token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["api_token"] = "api_token"
    email: str
    token: Secret


class BearerAuth(BaseModel):
    """An OAuth 2.0 (3LO) access token or a service account's bearer token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["bearer"] = "bearer"
    token: Secret


class JiraSourceConfig(SourceSettings):
    type: Literal["jira"] = "jira"
    base_url: AnyHttpUrl
    auth: ApiTokenAuth | BearerAuth = Field(discriminator="kind")
    # Project keys to index (None: every project the credential can browse), and keys never to.
    projects: frozenset[str] | None = None
    exclude_projects: frozenset[str] = frozenset()
    # Extra JQL every search is narrowed by, e.g. 'labels != internal-only'.
    jql: str | None = None
    # Windows re-read this much before the last `updated` seen: search is eventually consistent.
    overlap_s: int = Field(default=120, ge=0)
    max_pages: int = Field(default=50, ge=1)
    timeout_s: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _bounded_filter(self) -> JiraSourceConfig:
        if self.jql is not None and "order by" in self.jql.lower():
            raise ValueError("jql is a filter; the connector orders its own searches")
        return self
