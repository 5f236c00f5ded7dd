"""Every source type, in one place: its configuration model and how to build its connector.

A connector package exports a ``SOURCE_TYPE`` (a :class:`SourceType`); adding a source type is
one line in ``_PACKAGES`` below. The composition root validates each configured source against
the model its ``type`` names and builds the connector from it, knowing nothing of any one type.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from connectors.contract import Connector
from connectors.documents import SourceId
from connectors.org import OrgPolicy

_PACKAGES = (
    "connectors.folder",
    "connectors.confluence",
    "connectors.slack",
    "connectors.google_drive",
    "connectors.jira",
)


class SourceSettings(BaseModel):
    """What every source's configuration has: a type and an id. Types add their own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    id: SourceId


Factory = Callable[[Any, OrgPolicy, Callable[[], datetime]], Connector]


@dataclass(frozen=True)
class SourceType:
    name: str
    settings: type[SourceSettings]
    build: Factory


class UnknownSourceTypeError(ValueError):
    pass


def source_types() -> dict[str, SourceType]:
    types: dict[str, SourceType] = {}
    for package in _PACKAGES:
        declared: SourceType = importlib.import_module(package).SOURCE_TYPE
        types[declared.name] = declared
    return types


def parse_source(data: Any) -> SourceSettings:
    """Validate one configured source against the model of the type it names."""
    if isinstance(data, SourceSettings):
        return data
    if not isinstance(data, dict):
        raise ValueError("a source is a mapping with at least `type` and `id`")
    types = source_types()
    name = data.get("type")
    if name not in types:
        known = ", ".join(sorted(types))
        raise UnknownSourceTypeError(f"unknown source type {name!r} (known: {known})")
    return types[name].settings.model_validate(data)


def build_connector(
    source: SourceSettings, org: OrgPolicy, clock: Callable[[], datetime]
) -> Connector:
    return source_types()[source.type].build(source, org, clock)
