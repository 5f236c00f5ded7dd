"""The source document and its ACL, as every connector emits them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.principals import Principal

SourceId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
MetadataValue = str | int | float | bool | list[str]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]

# An ACL is the set of principals allowed to see a document. Empty means nobody (fail closed).
Acl = frozenset[Principal]


class AclLayer(BaseModel):
    """One layer of a document's permissions as the source gave it, kept for explanation only.

    The index decides visibility by ``SourceDocument.acl`` alone; layers say where that ACL came
    from (a sidecar and its line, a restricted ancestor page, a project's security level), so an
    operator can be told which layer admitted or stopped someone. ``principals`` are the layer's
    own, before any intersection; ``origin`` names the place in the source (a path, a page id)
    and ``line`` the line in it, when the source has lines. Layers must all admit (a space and a
    restricted page), except ``alternative`` ones, of which any one admits (a file's grants):
    the ACL is the intersection of the required layers and the union of the alternatives.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Annotated[str, Field(min_length=1, max_length=64)]
    label: Annotated[str, Field(min_length=1, max_length=512)]
    principals: Acl
    origin: Annotated[str, Field(max_length=2048)] | None = None
    line: Annotated[int, Field(ge=1)] | None = None
    alternative: bool = False


def document_id(source_id: str, external_id: str) -> str:
    """The index-wide identity of a document: unique across sources."""
    return f"{source_id}:{external_id}"


class SourceDocument(BaseModel):
    """One document as a source holds it, with the effective ACL resolved by the connector."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_id: SourceId
    external_id: Annotated[str, Field(min_length=1, max_length=1024)]
    title: str
    body: str
    url: str | None = None
    author: str | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime
    content_type: str = "text/plain"
    doc_type: Annotated[str, Field(min_length=1, max_length=64)] = "document"
    breadcrumbs: tuple[str, ...] = ()
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
    # The source's own version of the content (etag, version number, mtime and size): the index
    # keeps it, and a connector that finds the same version there need not fetch the content.
    version: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    acl: Acl
    # Where ``acl`` came from, layer by layer (optional; never consulted for visibility).
    acl_layers: tuple[AclLayer, ...] = ()

    @model_validator(mode="after")
    def _encodable_text(self) -> SourceDocument:
        # A lone surrogate (from a YAML escape in front matter, say) cannot be stored or hashed:
        # refuse it here, where it is one failed document, not later, where it stops the run.
        texts = [self.external_id, self.title, self.body, self.url, self.author, self.version]
        texts += [*self.breadcrumbs, *self.metadata]
        for value in self.metadata.values():
            texts += value if isinstance(value, list) else [value] if isinstance(value, str) else []
        for text in texts:
            if text is not None:
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as exc:
                    reason = f"{exc.reason} at {exc.start}"
                    raise ValueError(f"text is not valid Unicode: {reason}") from None
        return self

    @field_validator("content_type")
    @classmethod
    def _known_content_type(cls, value: str) -> str:
        return value.split(";", 1)[0].strip().lower()

    @property
    def doc_id(self) -> str:
        return document_id(self.source_id, self.external_id)
