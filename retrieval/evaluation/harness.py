"""Run an evaluation set through one search mode: rankings, latencies and ACL-leak checks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from retrieval.evaluation.dataset import EvalCase, EvalSet
from retrieval.evaluation.metrics import latency_summary, quality
from retrieval.evaluation.modes import ModeSpec
from retrieval.evaluation.report import Leak, ModeResult
from retrieval.models import SearchQuery, SearchResponse

log = logging.getLogger(__name__)

EVAL_SERVICE = "permindex-eval"
# recall@100 needs 100 distinct documents; also the depth at which leaks are looked for.
DEPTH = 100


class SearchFn(Protocol):
    def search(
        self,
        principals: frozenset[str],
        query: SearchQuery,
        *,
        caller: str,
        service: str = ...,
    ) -> SearchResponse: ...


PrincipalsFor = Callable[[str | None], frozenset[str]]


class Evaluator:
    """Runs every case of a set for the user it names, with that user's principals only."""

    def __init__(
        self,
        searcher: SearchFn,
        principals_for: PrincipalsFor,
        *,
        default_email: str = "evaluator@permindex.invalid",
        beir_source_id: str | None = None,
        depth: int = DEPTH,
    ) -> None:
        self._searcher = searcher
        self._principals_for = principals_for
        self._default_email = default_email
        self._beir_prefix = f"{beir_source_id}:" if beir_source_id else None
        self._depth = depth
        self._principal_cache: dict[str | None, frozenset[str]] = {}

    def run(
        self,
        evalset: EvalSet,
        spec: ModeSpec,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ModeResult:
        rankings: dict[str, list[str]] = {}
        latencies: list[float] = []
        leaks: list[Leak] = []
        errors: list[str] = []
        if evalset.cases:
            # Warm-up outside the timings: the first query loads models and opens caches.
            self._search(evalset, evalset.cases[0], spec)
        for done, case in enumerate(evalset.cases, 1):
            started = time.perf_counter()
            try:
                docs = self._search(evalset, case, spec)
            except Exception as exc:  # one failing query is reported; the others still count
                log.warning("eval query %s failed in mode %s: %s", case.id, spec.name, exc)
                errors.append(f"{case.id}: {type(exc).__name__}: {exc}")
                docs = []
            latencies.append((time.perf_counter() - started) * 1000.0)
            rankings[case.id] = docs
            leaks += [
                Leak(
                    case_id=case.id,
                    user=evalset.user_of(case),
                    mode=spec.name,
                    doc_id=doc,
                    rank=rank,
                )
                for rank, doc in enumerate(docs, 1)
                if doc in case.must_never_receive
            ]
            if on_progress is not None:
                on_progress(done, len(evalset.cases))
        qrels = {case.id: case.relevant for case in evalset.cases if case.judged}
        means, per_query = quality(qrels, rankings)
        return ModeResult(
            mode=spec.name,
            queries=len(evalset.cases),
            judged_queries=len(qrels),
            metrics=means,
            latency_ms=latency_summary(latencies),
            leaks=leaks,
            errors=errors[:50],
            per_query=per_query,
        )

    def _search(self, evalset: EvalSet, case: EvalCase, spec: ModeSpec) -> list[str]:
        user = evalset.user_of(case)
        if user not in self._principal_cache:
            self._principal_cache[user] = self._principals_for(user)
        query = SearchQuery(
            query=case.query,
            mode=spec.mode,
            fusion=spec.fusion,
            rerank=spec.rerank,
            top_k=self._depth,
            max_chunks_per_doc=1,
        )
        response = self._searcher.search(
            self._principal_cache[user],
            query,
            caller=user or self._default_email,
            service=EVAL_SERVICE,
        )
        return [self._key(result.doc_id) for result in response.results]

    def _key(self, doc_id: str) -> str:
        if self._beir_prefix and doc_id.startswith(self._beir_prefix):
            return doc_id[len(self._beir_prefix) :]
        return doc_id
