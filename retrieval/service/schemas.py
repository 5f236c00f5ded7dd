"""HTTP request and response bodies that are not already retrieval models, and the limits of
``ServiceSettings`` written into the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from retrieval.models import SearchQuery, Text, unicode_text
from retrieval.service.settings import ServiceSettings

# What ``connectors.principals.normalise_email`` accepts, as a JSON-schema pattern: one "@",
# neither end empty, no colon or white space (spaces and tabs around it are stripped). It
# also refuses invisible and compatibility characters, which a pattern cannot say.
EMAIL_PATTERN = r"^[ \t]*[^\s@:]+@[^\s@:]+[ \t]*$"
EMAIL_MIN_CHARS = 3
EMAIL_MAX_CHARS = 320
EMAIL_FORMAT: dict[str, Any] = {"format": "email"}
# ``group:<source>:<id>`` as ``connectors.principals.validate_principal`` accepts it.
# Its ends are spelt out because "\s" differs between JSON schema (ECMA), Python and pydantic's
# regex engine; this class is white space in all three, and for ``str.strip``.
_NOT_SPACE = r"[^\s\x1c-\x1f\x85]"
GROUP_PATTERN = rf"^group:[a-z0-9][a-z0-9_.-]*:{_NOT_SPACE}(.*{_NOT_SPACE})?$"

# The constraint before the text check, so that the JSON schema shows it.
GroupPrincipal = Annotated[
    str, StringConstraints(pattern=GROUP_PATTERN), AfterValidator(unicode_text)
]


class SearchRequest(SearchQuery):
    """A search on behalf of ``user``; only keys trusted to assert groups may send ``groups``."""

    user: Text = Field(
        min_length=EMAIL_MIN_CHARS,
        max_length=EMAIL_MAX_CHARS,
        pattern=EMAIL_PATTERN,
        json_schema_extra=EMAIL_FORMAT,
        description="the end user's email",
    )
    groups: list[GroupPrincipal] = Field(
        default_factory=list,
        description="group principals (group:<source>:<id>) asserted by a trusted service",
    )

    def to_query(self) -> SearchQuery:
        # exclude_unset keeps "not given" distinguishable, so the searcher's defaults apply.
        fields = self.model_dump(exclude={"user", "groups"}, exclude_unset=True)
        return SearchQuery.model_validate(fields)


def with_service_limits(
    openapi: Callable[[], dict[str, Any]], settings: ServiceSettings
) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` that also states this deployment's limits (``max_top_k``,
    ``max_query_chars``, ``max_asserted_groups``), which the service enforces with a 422 and
    which are tighter than what the models alone accept."""
    patched: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        if not patched:
            schema = openapi()
            search = schema.get("components", {}).get("schemas", {}).get("SearchRequest")
            if search is not None:
                fields = search["properties"]
                fields["top_k"]["maximum"] = settings.max_top_k
                fields["query"]["maxLength"] = settings.max_query_chars
                fields["groups"]["maxItems"] = settings.max_asserted_groups
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    for parameter in operation.get("parameters", []):
                        if parameter.get("name") == "groups" and parameter.get("in") == "query":
                            parameter["schema"]["maxItems"] = settings.max_asserted_groups
            patched.update(schema)
        return patched

    return document
