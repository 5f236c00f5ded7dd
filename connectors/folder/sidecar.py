"""The per-folder ACL sidecar, ``.permindex-acl.yaml``.

Format (every key optional, but a sidecar must say something)::

    allow: [alice@example.com, group:eng, org]   # who may see documents here
    inherit: true       # true: narrow what the parent folders allow; false: replace it
    doc_type: page      # document type for this folder and below
    files:              # per-file rules for files directly in this folder
      salaries.md:
        allow: [group:hr]
        inherit: false

Without an ``allow`` key a sidecar adds no restriction (it may still set ``doc_type``). An
``allow`` key that is present but blank (``allow:`` with every entry commented out, ``allow: ~``,
``allow: []``) allows nobody. ``inherit: false`` needs an ``allow`` key. Unknown keys, duplicate
keys and empty sidecars or rules are errors, so a typo such as ``alow:`` fails closed instead of
silently widening access.
"""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from connectors.documents import Acl, AclLayer
from connectors.folder.short_forms import expand_principal
from connectors.folder.yaml_files import FolderFileError, parse_yaml_model

SIDECAR_NAME = ".permindex-acl.yaml"
# Far above any real sidecar; a bigger file is a mistake, not a rule set worth parsing.
MAX_SIDECAR_BYTES = 1_000_000

DocType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]

_NOBODY: Acl = frozenset()


class AclRule(BaseModel):
    """``allow`` / ``inherit`` / ``doc_type`` for a folder or for one file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # None only when the key is absent: the field default is never validated.
    allow: Acl | None = None
    inherit: bool = True
    doc_type: DocType | None = None

    @field_validator("allow", mode="before")
    @classmethod
    def _expand_short_forms(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            # `allow:` whose entries were all commented out reads as null. Treating that like
            # an absent key would inherit the parent's wider ACL: it means nobody, like [].
            return _NOBODY
        if not isinstance(value, list):
            raise ValueError("allow must be a list of principals")
        context = info.context or {}
        return frozenset(
            expand_principal(item, source=context["source"], tenant=context["tenant"])
            for item in value
        )

    @model_validator(mode="after")
    def _check(self) -> AclRule:
        if not self.model_fields_set:
            # Most likely everything was commented out; what it meant to restrict is unknown.
            raise ValueError(
                "says nothing: write `allow: [...]` (`allow: []` hides it from everyone), "
                "or remove it"
            )
        if not self.inherit and self.allow is None:
            raise ValueError("inherit: false needs an allow list (it replaces the inherited ACL)")
        return self


class AclSidecar(AclRule):
    files: dict[str, AclRule] = Field(default_factory=dict)

    @field_validator("files", mode="before")
    @classmethod
    def _files_is_a_mapping(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(
                "must map file names to rules"
                + (" (it is empty: remove it or add rules)" if value is None else "")
            )
        return value

    @field_validator("files")
    @classmethod
    def _plain_names(cls, value: dict[str, AclRule]) -> dict[str, AclRule]:
        for name in value:
            if not name or "/" in name or "\\" in name or name.startswith("."):
                raise ValueError(
                    f"files: {name!r} must be the plain name of a visible file in this folder"
                )
        return value


def parse_sidecar(data: bytes, label: str, *, source: str, tenant: str) -> AclSidecar:
    """Raise ``FolderFileError`` naming ``label`` when the sidecar's bytes are not valid."""
    if len(data) > MAX_SIDECAR_BYTES:
        raise FolderFileError(f"{label}: over {MAX_SIDECAR_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FolderFileError(f"{label}: cannot read: not UTF-8: {exc}") from exc
    return parse_yaml_model(text, AclSidecar, label, {"source": source, "tenant": tenant})


def allow_lines(data: bytes) -> tuple[int | None, dict[str, int]]:
    """The 1-based lines of the sidecar's ``allow`` key and of each ``files: <name>: allow``,
    for explaining which line admitted or stopped someone. Only called on a sidecar that
    parsed, so the YAML is valid; a line that cannot be found is None (or absent)."""
    try:
        root = yaml.compose(data.decode("utf-8"), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError):
        return None, {}
    if not isinstance(root, yaml.MappingNode):
        return None, {}
    folder_line: int | None = None
    files: dict[str, int] = {}
    for key, value in root.value:
        if key.value == "allow":
            folder_line = key.start_mark.line + 1
        elif key.value == "files" and isinstance(value, yaml.MappingNode):
            for name, rule in value.value:
                if isinstance(rule, yaml.MappingNode):
                    for rule_key, _ in rule.value:
                        if rule_key.value == "allow":
                            files[str(name.value)] = rule_key.start_mark.line + 1
    return folder_line, files


def sidecar_layers(
    sidecar: AclSidecar, data: bytes, label: str
) -> tuple[AclLayer | None, dict[str, AclLayer]]:
    """The explainer's view of the layers this sidecar adds: its own ``allow`` and each file
    rule's, with the sidecar's path (``label``) and the line of the ``allow`` key."""
    folder_line, file_lines = allow_lines(data)
    folder_layer = None
    if sidecar.allow is not None:
        folder_layer = AclLayer(
            kind="folder sidecar",
            label=f"{label}: allow" + ("" if sidecar.inherit else " (inherit: false)"),
            principals=sidecar.allow,
            origin=label,
            line=folder_line,
        )
    file_layers = {
        name: AclLayer(
            kind="file rule",
            label=f"{label}: files: {name}: allow" + ("" if rule.inherit else " (inherit: false)"),
            principals=rule.allow,
            origin=label,
            line=file_lines.get(name),
        )
        for name, rule in sidecar.files.items()
        if rule.allow is not None
    }
    return folder_layer, file_layers
