"""Per-query stage traces, kept in a bounded ring so "why did/didn't X come back" can be answered.

A trace lists, for each stage in order, the candidates it passed on with their scores. The
legs (``keyword``, ``vector``) are alternatives; every later stage narrows or reorders the list.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from retrieval.models import SearchQuery, StageTrace

LEG_STAGES = frozenset({"keyword", "vector"})
# Stages that time work but pass no candidates on.
INFO_STAGES = frozenset({"embed"})


class QueryTrace(BaseModel):
    query_id: str
    at: datetime
    caller: str
    service: str
    query: SearchQuery
    # Kept in memory only (never audited): lets a replay check visibility with the same identity.
    principals: frozenset[str]
    stages: list[StageTrace] = Field(default_factory=list)
    chunk_docs: dict[str, str] = Field(default_factory=dict)
    returned_doc_ids: list[str] = Field(default_factory=list)

    def add(
        self,
        stage: str,
        took_ms: float,
        candidates: Iterable[tuple[str, str, float]],
        note: str | None = None,
    ) -> None:
        """Record a stage's output as (chunk id, doc id, score) triples."""
        pairs: list[tuple[str, float]] = []
        for chunk_id, doc_id, score in candidates:
            self.chunk_docs[chunk_id] = doc_id
            pairs.append((chunk_id, score))
        self.stages.append(StageTrace(stage=stage, took_ms=took_ms, candidates=pairs, note=note))


class DocumentFate(BaseModel):
    """Where one document went in one query."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    returned: bool
    # The last stage the document reached, and the stage that dropped it (None if returned
    # or never a candidate).
    last_stage: str | None
    dropped_at: str | None
    rank: int | None = None
    explanation: str


def explain(trace: QueryTrace, doc_id: str) -> DocumentFate:
    legs = [s for s in trace.stages if s.stage in LEG_STAGES]
    later = [s for s in trace.stages if s.stage not in LEG_STAGES | INFO_STAGES]

    def doc_ranks(stage: StageTrace) -> list[int]:
        return [
            i
            for i, (chunk_id, _) in enumerate(stage.candidates, start=1)
            if trace.chunk_docs.get(chunk_id) == doc_id
        ]

    found_in = [(s.stage, doc_ranks(s)) for s in legs]
    found_in = [(name, ranks) for name, ranks in found_in if ranks]
    if not found_in:
        pool = max((len(s.candidates) for s in legs), default=0)
        return DocumentFate(
            doc_id=doc_id,
            returned=False,
            last_stage=None,
            dropped_at=None,
            explanation=(
                f"never a candidate: no leg ({', '.join(s.stage for s in legs) or 'none'}) "
                f"returned it among its top {pool} chunks after the ACL and query filters"
            ),
        )
    last = ", ".join(f"{name} rank {ranks[0]}" for name, ranks in found_in)
    last_stage = found_in[-1][0]
    for stage in later:
        ranks = doc_ranks(stage)
        if not ranks:
            return DocumentFate(
                doc_id=doc_id,
                returned=False,
                last_stage=last_stage,
                dropped_at=stage.stage,
                explanation=f"dropped at stage {stage.stage!r} (after {last})"
                + (f": {stage.note}" if stage.note else ""),
            )
        last_stage, last = stage.stage, f"{stage.stage} rank {ranks[0]}"
    returned = doc_id in trace.returned_doc_ids
    rank = trace.returned_doc_ids.index(doc_id) + 1 if returned else None
    return DocumentFate(
        doc_id=doc_id,
        returned=returned,
        last_stage=last_stage,
        dropped_at=None,
        rank=rank,
        explanation=f"returned at rank {rank} ({last})" if returned else f"reached {last}",
    )


class TraceStore:
    """The last ``capacity`` traces by query id; the oldest is evicted first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._traces: OrderedDict[str, QueryTrace] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, trace: QueryTrace) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._traces[trace.query_id] = trace
            while len(self._traces) > self.capacity:
                self._traces.popitem(last=False)

    def get(self, query_id: str) -> QueryTrace | None:
        with self._lock:
            return self._traces.get(query_id)

    def __len__(self) -> int:
        return len(self._traces)
