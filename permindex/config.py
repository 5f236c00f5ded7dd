"""The whole deployment's configuration: one YAML file, overridable by environment variables.

Where the file comes from, first match wins: ``--config PATH``, ``$PERMINDEX_CONFIG``,
``./permindex.yaml`` if present, otherwise built-in defaults (embedded index, no sources).
Environment variables override the file: ``PERMINDEX_TENANT=acme``,
``PERMINDEX_INDEX__OPENSEARCH__URL=http://host:9200`` (prefix ``PERMINDEX_``, nested ``__``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from connectors.org import OrgPolicy
from connectors.registry import SourceSettings, parse_source
from indexer.settings import ChunkingSettings, EmbeddingSettings, IndexSettings
from retrieval.service.settings import ServiceSettings
from retrieval.settings import RetrievalSettings
from schedules.settings import QueueSettings, ScheduleSettings, SyncSettings

CONFIG_ENV = "PERMINDEX_CONFIG"
DEFAULT_CONFIG_FILE = Path("permindex.yaml")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the offending field."""


# Each configured source, validated against the model its ``type`` names (connectors.registry).
SourceConfig = Annotated[SourceSettings, BeforeValidator(parse_source)]


class OrgSettings(BaseModel):
    """``org:`` section: how to tell the tenant's members (``connectors.org.OrgPolicy``)."""

    model_config = ConfigDict(extra="forbid")

    domains: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)
    guests: list[str] = Field(default_factory=list)
    # Sources trusted to report who is a member or a guest (e.g. [confluence]).
    member_sources: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid(self) -> OrgSettings:
        OrgPolicy(tenant="check", **self.model_dump())  # same rules as where it is used
        return self


class PermindexConfig(BaseSettings):
    """Everything the composition root needs to wire connectors, indexer, retrieval, schedules."""

    model_config = SettingsConfigDict(
        env_prefix="PERMINDEX_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    tenant: str = Field(default="default", pattern=r"^\S+$")
    # Who is inside the tenant (verified domains, members, guests): `org` in an ACL means them.
    org: OrgSettings = Field(default_factory=lambda: OrgSettings())
    index: IndexSettings = Field(default_factory=IndexSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    sources: list[SourceConfig] = Field(default_factory=list)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    @property
    def org_policy(self) -> OrgPolicy:
        """The one tenant setting every connector and the identity resolver use."""
        return OrgPolicy(tenant=self.tenant, **self.org.model_dump())

    @model_validator(mode="after")
    def _unique_sources(self) -> PermindexConfig:
        seen: set[str] = set()
        for source in self.sources:
            if source.id in seen:
                raise ValueError(f"duplicate source id {source.id!r}")
            seen.add(source.id)
        unknown = sorted(set(self.schedules.sources) - seen)
        if unknown:
            raise ValueError(f"schedules name unknown sources: {', '.join(unknown)}")
        strangers = sorted(set(self.org.member_sources) - seen)
        if strangers:
            raise ValueError(f"org.member_sources names unknown sources: {', '.join(strangers)}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's content arrives as init values; the environment must override it.
        return env_settings, init_settings

    def source(self, source_id: str) -> SourceConfig:
        for source in self.sources:
            if source.id == source_id:
                return source
        known = ", ".join(s.id for s in self.sources) or "none configured"
        raise ConfigError(f"unknown source {source_id!r} (known: {known})")


def config_path(explicit: Path | None = None) -> Path | None:
    """The file to load, or None for built-in defaults."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    if DEFAULT_CONFIG_FILE.is_file():
        return DEFAULT_CONFIG_FILE
    return None


def load_config(path: Path | None = None) -> PermindexConfig:
    """Load the configuration; raise ``ConfigError`` naming the file and field on any problem."""
    resolved = config_path(path)
    data: dict[str, Any] = {}
    origin = "environment/defaults"
    if resolved is not None:
        origin = str(resolved)
        data = _read_yaml(resolved)
        # Relative paths in the file are relative to the file, not to the working directory.
        data = _anchor_paths(data, resolved.parent)
    try:
        return PermindexConfig(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(origin, exc)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(loaded).__name__}")
    return loaded


def _anchor_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    from retrieval.service.settings import DEFAULT_AUDIT_FILE, DEFAULT_KEYS_FILE

    def anchored(path: str | Path) -> str:
        return str(base / Path(path).expanduser())

    index = data.get("index")
    if isinstance(index, dict):
        embedded = index.get("embedded")
        if isinstance(embedded, dict) and isinstance(embedded.get("path"), str):
            embedded["path"] = anchored(embedded["path"])
    for source in data.get("sources") or []:
        if isinstance(source, dict) and isinstance(source.get("path"), str):
            source["path"] = anchored(source["path"])
    service = data.setdefault("service", {})
    if isinstance(service, dict):
        # Defaults too: `permindex keys create` run from another folder must edit the keys file
        # the service reads, not create a stray one there and report success.
        service.setdefault("keys_file", str(DEFAULT_KEYS_FILE))
        opensearch = isinstance(index, dict) and index.get("opensearch") is not None
        if opensearch:
            # (The embedded index's audit file defaults to sitting beside the index file.)
            service.setdefault("audit_file", str(DEFAULT_AUDIT_FILE))
        for name in ("keys_file", "audit_file"):
            if isinstance(service.get(name), str):
                service[name] = anchored(service[name])
    return data


def _describe(origin: str, exc: ValidationError) -> str:
    lines = [f"{origin}: invalid configuration ({exc.error_count()} problem(s))"]
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)
