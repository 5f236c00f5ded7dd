"""HTTP request and response bodies that are not already retrieval models."""

from __future__ import annotations

from pydantic import Field

from retrieval.models import SearchQuery, Text


class SearchRequest(SearchQuery):
    """A search on behalf of ``user``; only keys trusted to assert groups may send ``groups``."""

    user: Text = Field(min_length=3, max_length=320, description="the end user's email")
    groups: list[Text] = Field(
        default_factory=list,
        description="group principals (group:<source>:<id>) asserted by a trusted service",
    )

    def to_query(self) -> SearchQuery:
        # exclude_unset keeps "not given" distinguishable, so the searcher's defaults apply.
        fields = self.model_dump(exclude={"user", "groups"}, exclude_unset=True)
        return SearchQuery.model_validate(fields)
