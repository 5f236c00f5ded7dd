"""Keep at most K chunks per document, in rank order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from retrieval.fusion import Candidate


def collapse(candidates: Iterable[Candidate], max_per_doc: int) -> list[Candidate]:
    seen: Counter[str] = Counter()
    kept: list[Candidate] = []
    for cand in candidates:
        if seen[cand.doc_id] < max_per_doc:
            seen[cand.doc_id] += 1
            kept.append(cand)
    return kept
