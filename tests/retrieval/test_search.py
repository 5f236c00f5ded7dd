"""Search on each backend: modes, permissions, fusion, collapse, filters, pages, documents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from retrieval.identity import IdentityResolver
from retrieval.models import SearchQuery, SearchResponse
from retrieval.searcher import Searcher, SearchLimitError
from tests.retrieval.corpus import DOCS, DOCS_BY_ID, MakeSearcher


def ask(
    searcher: Searcher, identities: IdentityResolver, email: str, text: str, **kw: object
) -> SearchResponse:
    query = SearchQuery.model_validate({"query": text, **kw})
    return searcher.search(identities.resolve(email), query, caller=email)


def doc_ids(response: SearchResponse) -> list[str]:
    return [r.doc_id for r in response.results]


@pytest.mark.parametrize(
    ("mode", "text"),
    [
        ("keyword", "WireGuard VPN client"),
        ("vector", "how do I reach the office network from home"),
        ("hybrid", "working remotely over VPN"),
    ],
)
def test_each_mode_finds_the_relevant_document(
    searcher: Searcher, identities: IdentityResolver, mode: str, text: str
) -> None:
    response = ask(searcher, identities, "bob@acme.com", text, mode=mode)
    assert doc_ids(response)[0] == "wiki:vpn"
    top = response.results[0]
    assert top.title == "Configuring the VPN client"
    assert top.url == "https://wiki.acme.test/vpn"
    assert top.source_id == "wiki"
    assert top.updated_at == DOCS_BY_ID["wiki:vpn"].updated_at
    assert "WireGuard" in top.text
    breakdown = top.score
    assert (breakdown.keyword is not None) == (mode != "vector")
    assert (breakdown.vector is not None) == (mode != "keyword")
    assert breakdown.final == breakdown.fused


def test_results_carry_highlights(searcher: Searcher, identities: IdentityResolver) -> None:
    top = ask(searcher, identities, "bob@acme.com", "WireGuard", mode="keyword").results[0]
    assert top.highlights
    assert any("<em>WireGuard</em>" in fragment for fragment in top.highlights)
    # Found by meaning only, the chunk is still marked where it shares a term with the query.
    by_meaning = ask(
        searcher, identities, "bob@acme.com", "office network from home", mode="vector"
    )
    vpn = next(r for r in by_meaning.results if r.doc_id == "wiki:vpn")
    assert vpn.highlights and "<em>office</em> <em>network</em>" in vpn.highlights[0]


@pytest.mark.parametrize("mode", ["keyword", "vector", "hybrid"])
def test_users_see_only_what_their_principals_allow(
    searcher: Searcher, identities: IdentityResolver, mode: str
) -> None:
    text = "billing service deployment outage"
    alice = set(doc_ids(ask(searcher, identities, "alice@acme.com", text, mode=mode, top_k=20)))
    bob = set(doc_ids(ask(searcher, identities, "bob@acme.com", text, mode=mode, top_k=20)))
    # alice: eng directly, tech through nesting; bob: neither.
    assert {"wiki:deploy", "jira:INC-7"} <= alice
    assert not bob & {"wiki:deploy", "jira:INC-7", "wiki:payroll", "slack:C1-1700000000"}
    for seen in (alice, bob):
        assert "wiki:orphan" not in seen  # empty ACL: nobody
    lunch = doc_ids(ask(searcher, identities, "alice@acme.com", "tacos food truck", mode=mode))
    assert lunch[0] == "slack:C1-1700000000"  # through her mapped Slack account


@pytest.mark.parametrize("mode", ["keyword", "vector", "hybrid"])
def test_empty_acl_is_never_returned(
    searcher: Searcher, identities: IdentityResolver, mode: str
) -> None:
    for email in ("alice@acme.com", "bob@acme.com", "carol@acme.com"):
        response = ask(searcher, identities, email, "secret merger acquisition", mode=mode)
        assert "wiki:orphan" not in doc_ids(response)


def test_no_principals_no_results(searcher: Searcher) -> None:
    response = searcher.search(frozenset(), SearchQuery(query="VPN"), caller="nobody@acme.com")
    assert response.results == []


@pytest.mark.parametrize("fusion", ["rrf", "minmax"])
def test_hybrid_fuses_both_legs(
    searcher: Searcher, identities: IdentityResolver, fusion: str
) -> None:
    response = ask(searcher, identities, "carol@acme.com", "salary bands payroll", fusion=fusion)
    assert doc_ids(response)[0] == "wiki:payroll"
    top = response.results[0].score
    assert top.keyword_rank == 1 and top.vector_rank == 1
    if fusion == "rrf":
        assert top.fused == pytest.approx(2 / 61)
    else:
        assert top.fused == pytest.approx(1.0)  # best in both legs
    finals = [r.score.final for r in response.results]
    assert finals == sorted(finals, reverse=True)


def test_hybrid_finds_what_only_one_leg_finds(
    searcher: Searcher, identities: IdentityResolver
) -> None:
    # No keyword overlap with the VPN page: only the vector leg can bring it.
    response = ask(searcher, identities, "bob@acme.com", "remote access to corporate intranet")
    assert "wiki:vpn" in doc_ids(response)[:3]


def test_collapse_limits_chunks_per_document(
    searcher: Searcher, identities: IdentityResolver
) -> None:
    one = ask(searcher, identities, "bob@acme.com", "Kubernetes pods", top_k=10)
    assert doc_ids(one).count("wiki:k8s-handbook") == 1
    three = ask(
        searcher, identities, "bob@acme.com", "Kubernetes pods", top_k=10, max_chunks_per_doc=3
    )
    handbook = [r for r in three.results if r.doc_id == "wiki:k8s-handbook"]
    assert len(handbook) == 3
    assert {r.chunk_index for r in handbook} == {0, 1, 2}


def test_filters_by_source_type_and_updated_range(
    searcher: Searcher, identities: IdentityResolver
) -> None:
    text = "billing service"
    only_jira = ask(searcher, identities, "alice@acme.com", text, sources=["jira"], top_k=20)
    assert doc_ids(only_jira) == ["jira:INC-7"]
    pages = ask(searcher, identities, "alice@acme.com", text, doc_types=["page"], top_k=20)
    assert pages.results and all(r.doc_type == "page" for r in pages.results)
    assert "jira:INC-7" not in doc_ids(pages)
    old = ask(
        searcher,
        identities,
        "bob@acme.com",
        "travel expense policy",
        updated_before=datetime(2020, 1, 1, tzinfo=UTC),
        top_k=20,
    )
    assert doc_ids(old) == ["wiki:expenses-2019"]
    new = ask(
        searcher,
        identities,
        "bob@acme.com",
        "travel expense policy",
        updated_after=datetime(2020, 1, 1, tzinfo=UTC),
        top_k=20,
    )
    assert "wiki:expenses-2019" not in doc_ids(new)
    assert "wiki:expenses-2025" in doc_ids(new)


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_pages_partition_the_ranking(
    searcher: Searcher, identities: IdentityResolver, mode: str
) -> None:
    text = "service policy network pods billing"
    whole = doc_ids(ask(searcher, identities, "alice@acme.com", text, mode=mode, top_k=6))
    assert len(whole) == 6
    first = doc_ids(ask(searcher, identities, "alice@acme.com", text, mode=mode, top_k=3))
    second = doc_ids(
        ask(searcher, identities, "alice@acme.com", text, mode=mode, top_k=3, offset=3)
    )
    assert first + second == whole
    beyond = ask(searcher, identities, "alice@acme.com", text, mode=mode, top_k=3, offset=500)
    assert beyond.results == []


def test_recency_boost_prefers_the_newer_document(
    searcher: Searcher, identities: IdentityResolver
) -> None:
    text = "Travel expense policy"
    plain = ask(searcher, identities, "bob@acme.com", text, mode="keyword")
    boosted = ask(searcher, identities, "bob@acme.com", text, mode="keyword", recency_boost=0.8)
    plain_order = [d for d in doc_ids(plain) if d.startswith("wiki:expenses")]
    boosted_order = [d for d in doc_ids(boosted) if d.startswith("wiki:expenses")]
    assert boosted_order[0] == "wiki:expenses-2025"
    assert plain.results[0].score.recency is None
    recency = {r.doc_id: r.score.recency for r in boosted.results}
    new, old = recency["wiki:expenses-2025"], recency["wiki:expenses-2019"]
    assert new is not None and old is not None and new > old
    # One month old with a 90-day half-life: a bit under 0.8.
    assert new == pytest.approx(0.5 ** (31 / 90), rel=1e-3)
    assert set(plain_order) == set(boosted_order)


def test_default_mode_comes_from_settings(
    make_searcher: MakeSearcher, identities: IdentityResolver
) -> None:
    searcher = make_searcher(default_mode="keyword")
    top = ask(searcher, identities, "bob@acme.com", "WireGuard").results[0]
    assert top.score.vector is None and top.score.keyword is not None
    explicit = ask(searcher, identities, "bob@acme.com", "WireGuard", mode="hybrid").results[0]
    assert explicit.score.vector is not None


def test_top_k_above_the_deployment_limit_is_refused(
    make_searcher: MakeSearcher, identities: IdentityResolver
) -> None:
    searcher = make_searcher(max_top_k=5)
    with pytest.raises(SearchLimitError, match="top_k 6"):
        ask(searcher, identities, "bob@acme.com", "VPN", top_k=6)


def test_get_document_applies_the_same_permissions(
    searcher: Searcher, identities: IdentityResolver
) -> None:
    view = searcher.get_document(identities.resolve("bob@acme.com"), "wiki:k8s-handbook")
    assert view is not None
    assert [c.index for c in view.chunks] == [0, 1, 2]
    assert view.text.startswith("Kubernetes pods")
    assert view.title == "Kubernetes handbook"
    assert searcher.get_document(identities.resolve("bob@acme.com"), "wiki:deploy") is None
    assert searcher.get_document(identities.resolve("alice@acme.com"), "wiki:deploy") is not None
    assert searcher.get_document(identities.resolve("alice@acme.com"), "wiki:orphan") is None
    assert searcher.get_document(frozenset(), "wiki:vpn") is None
    assert searcher.get_document(identities.resolve("bob@acme.com"), "wiki:missing") is None


def test_corpus_is_what_the_tests_think(searcher: Searcher) -> None:
    stats = searcher.index.stats()
    assert stats.documents == len(DOCS)
    assert stats.chunks == sum(len(d.chunks) for d in DOCS)
