"""The rerank stage, with a real CrossEncoder built locally from the packaged MiniLM weights."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from indexer.embedding import resolve_model_path
from retrieval.identity import IdentityResolver
from retrieval.models import SearchQuery
from retrieval.rerank import CrossEncoderReranker, rerank_passage
from retrieval.searcher import Searcher
from tests.retrieval.corpus import MakeSearcher

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MiniLM with a fresh one-logit head: untrained, but a genuine CrossEncoder on disk."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("cross-encoder")
    CrossEncoder(resolve_model_path("all-MiniLM-L6-v2"), num_labels=1).save(str(path))
    return path


class PrefersWord:
    """A transparent reranker: scores 1 for passages containing ``word``, else 0."""

    name = "prefers-word"

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls: list[int] = []

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        self.calls.append(len(passages))
        return [1.0 if self.word in p else 0.0 for p in passages]


def test_cross_encoder_loaded_by_path_scores_every_returned_result(
    make_searcher: MakeSearcher, identities: IdentityResolver, tiny_cross_encoder: Path
) -> None:
    searcher = make_searcher(rerank_model=str(tiny_cross_encoder), rerank_top_n=5)
    principals = identities.resolve("alice@acme.com")
    response = searcher.search(
        principals, SearchQuery(query="billing service outage", top_k=4), caller="alice"
    )
    assert len(response.results) == 4
    scores = [r.score.rerank for r in response.results]
    assert all(s is not None for s in scores)
    assert [r.score.final for r in response.results] == scores
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]

    # The stage's scores are the model's own scores for (query, passage).
    direct = CrossEncoderReranker(str(tiny_cross_encoder))
    hits = searcher.index.get_document_chunks(response.results[0].doc_id, principals)
    hit = next(h for h in hits if h.chunk_id == response.results[0].chunk_id)
    expected = direct.score("billing service outage", [rerank_passage(hit)])[0]
    assert scores[0] == pytest.approx(expected, abs=1e-5)


def test_rerank_reorders_the_fused_candidates(
    make_searcher: MakeSearcher, identities: IdentityResolver
) -> None:
    reranker = PrefersWord("tacos")
    searcher = make_searcher()
    searcher.reranker = reranker
    principals = identities.resolve("alice@acme.com")
    text = "VPN office network"  # the VPN page wins; the vector leg still brings the lunch chat
    plain = searcher.search(principals, SearchQuery(query=text, rerank=False), caller="alice")
    assert plain.results[0].doc_id != "slack:C1-1700000000"
    assert all(r.score.rerank is None for r in plain.results)
    assert reranker.calls == []

    reranked = searcher.search(principals, SearchQuery(query=text), caller="alice")
    assert reranked.results[0].doc_id == "slack:C1-1700000000"
    assert reranked.results[0].score.rerank == 1.0


def test_rerank_window_covers_the_page_and_nothing_beyond(
    make_searcher: MakeSearcher, identities: IdentityResolver
) -> None:
    reranker = PrefersWord("Kubernetes")
    searcher = make_searcher(rerank_top_n=3)
    searcher.reranker = reranker
    principals = identities.resolve("alice@acme.com")
    query = SearchQuery(query="service network policy pods", top_k=2, offset=3)
    response = searcher.search(principals, query, caller="alice")
    # The page ends at rank 5, past the configured window of 3: the window grows to cover it.
    assert reranker.calls == [5]
    assert len(response.results) == 2
    assert all(r.score.rerank is not None for r in response.results)


def test_without_a_configured_model_rerank_is_off(
    searcher: Searcher, identities: IdentityResolver
) -> None:
    assert searcher.reranker is None
    principals = identities.resolve("bob@acme.com")
    response = searcher.search(
        principals, SearchQuery(query="VPN", rerank=True, trace=True), caller="bob"
    )
    assert all(r.score.rerank is None for r in response.results)
    assert response.trace is not None
    notes = {s.stage: s.note for s in response.trace}
    assert notes["rerank"] == "requested but not configured"
