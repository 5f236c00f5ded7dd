"""What an evaluation runs: queries, graded relevant documents, documents a user must never see."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Golden sets name documents by permindex document id (``source:external``); BEIR directories by
# their own corpus ids, which become the external ids of one synthetic source.
IdSpace = Literal["doc_id", "external_id"]


class EvalCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    query: str = Field(min_length=1)
    # Whose permissions the query runs with; None means the set's default user.
    user: str | None = None
    # Document -> graded relevance (>0 relevant). Empty for pure leak cases.
    relevant: dict[str, int] = Field(default_factory=dict)
    # Documents this user must never receive, in any mode, at any rank: an ACL-leak check.
    must_never_receive: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _consistent(self) -> EvalCase:
        both = self.must_never_receive & {d for d, grade in self.relevant.items() if grade > 0}
        if both:
            raise ValueError(
                f"case {self.id!r}: documents both relevant and forbidden: {sorted(both)}"
            )
        return self

    @property
    def judged(self) -> bool:
        return any(grade > 0 for grade in self.relevant.values())


class EvalSet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    id_space: IdSpace = "doc_id"
    default_user: str | None = None
    cases: list[EvalCase]

    @model_validator(mode="after")
    def _unique_ids(self) -> EvalSet:
        seen: set[str] = set()
        for case in self.cases:
            if case.id in seen:
                raise ValueError(f"duplicate case id {case.id!r}")
            seen.add(case.id)
        return self

    def user_of(self, case: EvalCase) -> str | None:
        return case.user or self.default_user
