"""The per-folder ACL sidecar, ``.permindex-acl.yaml``.

Format (every key optional)::

    allow: [alice@example.com, group:eng, org]   # who may see documents here
    inherit: true       # true: narrow what the parent folders allow; false: replace it
    doc_type: page      # document type for this folder and below
    files:              # per-file rules for files directly in this folder
      salaries.md:
        allow: [group:hr]
        inherit: false

Without ``allow`` a sidecar adds no restriction (it may still set ``doc_type``). ``inherit: false``
needs an ``allow`` list. Unknown keys are errors, so a typo such as ``alow:`` fails closed instead
of silently widening access.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from connectors.documents import Acl
from connectors.folder.short_forms import expand_principal
from connectors.folder.yaml_files import load_yaml_model

SIDECAR_NAME = ".permindex-acl.yaml"

DocType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]


class AclRule(BaseModel):
    """``allow`` / ``inherit`` / ``doc_type`` for a folder or for one file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: Acl | None = None
    inherit: bool = True
    doc_type: DocType | None = None

    @field_validator("allow", mode="before")
    @classmethod
    def _expand_short_forms(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None
        if not isinstance(value, list):
            raise ValueError("allow must be a list of principals")
        context = info.context or {}
        return frozenset(
            expand_principal(item, source=context["source"], tenant=context["tenant"])
            for item in value
        )

    @model_validator(mode="after")
    def _replace_needs_allow(self) -> AclRule:
        if not self.inherit and self.allow is None:
            raise ValueError("inherit: false needs an allow list (it replaces the inherited ACL)")
        return self


class AclSidecar(AclRule):
    files: dict[str, AclRule] = Field(default_factory=dict)

    @field_validator("files")
    @classmethod
    def _plain_names(cls, value: dict[str, AclRule]) -> dict[str, AclRule]:
        for name in value:
            if not name or "/" in name or "\\" in name or name.startswith("."):
                raise ValueError(
                    f"files: {name!r} must be the plain name of a visible file in this folder"
                )
        return value


def load_sidecar(path: Path, label: str, *, source: str, tenant: str) -> AclSidecar:
    """Raise ``FolderFileError`` naming ``label`` when the sidecar is unreadable or invalid."""
    return load_yaml_model(path, AclSidecar, label, {"source": source, "tenant": tenant})
