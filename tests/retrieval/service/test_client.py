"""The Python clients and the LlamaIndex retriever against a real uvicorn server and in-process:
one interface, same answers, same errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from retrieval.client import (
    AuthenticationError,
    InProcessClient,
    InvalidRequestError,
    PermindexClient,
    PermissionDeniedError,
    SearchClient,
)
from retrieval.identity import IdentityResolver
from retrieval.llamaindex_retriever import PermindexRetriever
from retrieval.models import SearchQuery
from retrieval.searcher import Searcher


@pytest.fixture
def http_client(server_url: str, api_keys: dict[str, str]) -> Iterator[PermindexClient]:
    with PermindexClient(server_url, api_keys["search"]) as client:
        yield client


@pytest.fixture
def local_client(searcher: Searcher, identities: IdentityResolver) -> InProcessClient:
    return InProcessClient(searcher, identities, service="test")


def both(http_client: PermindexClient, local_client: InProcessClient) -> list[SearchClient]:
    clients: list[SearchClient] = [http_client, local_client]
    assert all(isinstance(c, SearchClient) for c in clients)
    return clients


def test_http_and_in_process_clients_answer_alike(
    http_client: PermindexClient, local_client: InProcessClient
) -> None:
    for user, query in (
        ("alice@acme.com", "billing service outage"),
        ("bob@acme.com", "billing service outage"),
        ("carol@acme.com", "salary bands"),
    ):
        for mode in ("keyword", "vector", "hybrid"):
            over_http = http_client.search(user, query, mode=mode, top_k=5)
            in_process = local_client.search(user, SearchQuery(query=query, mode=mode, top_k=5))
            assert [r.chunk_id for r in over_http.results] == [
                r.chunk_id for r in in_process.results
            ], (user, mode)
            assert over_http.results, (user, mode)
            # neither a search key nor an in-process caller sees raw stage scores (issue 7 13)
            assert [r.score for r in in_process.results] == [r.score for r in over_http.results]
            assert all(
                r.score.keyword is None and r.score.vector is None for r in in_process.results
            )


def test_documents_through_both_clients(
    http_client: PermindexClient, local_client: InProcessClient
) -> None:
    for client in both(http_client, local_client):
        document = client.get_document("alice@acme.com", "wiki:deploy")
        assert document is not None and document.title == "Deploying the billing service"
        assert client.get_document("bob@acme.com", "wiki:deploy") is None
        assert client.get_document("bob@acme.com", "wiki:orphan") is None
        assert client.get_document("bob@acme.com", "wiki:../../etc/passwd") is None


def test_client_errors_are_typed(
    server_url: str,
    api_keys: dict[str, str],
    http_client: PermindexClient,
    local_client: InProcessClient,
) -> None:
    with (
        PermindexClient(server_url, "pmx_nope_nope") as bad,
        pytest.raises(AuthenticationError),
    ):
        bad.search("bob@acme.com", "vpn")
    with (
        PermindexClient(server_url, api_keys["admin"]) as admin_only,
        pytest.raises(PermissionDeniedError),
    ):
        admin_only.search("bob@acme.com", "vpn")
    for client in both(http_client, local_client):
        with pytest.raises(PermissionDeniedError):
            client.search("bob@acme.com", "payroll", groups=["group:wiki:hr"])
        with pytest.raises(InvalidRequestError):
            client.search("not-an-email", "vpn")
        with pytest.raises(InvalidRequestError):
            client.search("bob@acme.com", "vpn", top_k=0)
    assert http_client.ready()


def test_trusted_clients_may_assert_groups(
    server_url: str, api_keys: dict[str, str], searcher: Searcher, identities: IdentityResolver
) -> None:
    with PermindexClient(server_url, api_keys["trusted"]) as trusted_http:
        trusted_local = InProcessClient(searcher, identities, trust_asserted_groups=True)
        for client in (trusted_http, trusted_local):
            response = client.search(
                "bob@acme.com", "salary bands payroll", groups=["group:wiki:hr"], mode="keyword"
            )
            assert response.results[0].doc_id == "wiki:payroll"


def test_llamaindex_retriever_returns_cited_nodes(
    http_client: PermindexClient, local_client: InProcessClient
) -> None:
    for client in both(http_client, local_client):
        retriever = PermindexRetriever(client, "alice@acme.com", mode="keyword", top_k=3)
        nodes = retriever.retrieve("billing service outage")
        assert nodes and all(isinstance(n, NodeWithScore) for n in nodes)
        scores = [n.score or 0.0 for n in nodes]
        assert scores == sorted(scores, reverse=True)
        doc_ids = [n.node.metadata["doc_id"] for n in nodes]
        assert {"wiki:deploy", "jira:INC-7"} <= set(doc_ids)
        node = nodes[0].node
        assert isinstance(node, TextNode)
        meta = node.metadata
        assert set(meta) >= {
            "doc_id",
            "title",
            "url",
            "source",
            "updated_at",
            "chunk_id",
            "highlights",
        }
        assert node.node_id == meta["chunk_id"]
        assert meta["url"].startswith("https://")
        assert any("billing" in h.lower() or "outage" in h.lower() for h in meta["highlights"])
        # The LLM sees title and url as citation context, not ids and highlights.
        llm_text = node.get_content(metadata_mode=MetadataMode.LLM)
        assert meta["title"] in llm_text and meta["chunk_id"] not in llm_text

        bob = PermindexRetriever(client, "bob@acme.com", mode="keyword", top_k=10)
        bob_docs = {n.node.metadata["doc_id"] for n in bob.retrieve(QueryBundle("billing outage"))}
        assert not bob_docs & {"wiki:deploy", "jira:INC-7"}


async def _aretrieve(retriever: PermindexRetriever, text: str) -> list[NodeWithScore]:
    return await retriever.aretrieve(text)


def test_llamaindex_async_retrieve(http_client: PermindexClient) -> None:
    import asyncio

    retriever = PermindexRetriever(http_client, "bob@acme.com", mode="keyword")
    nodes = asyncio.run(_aretrieve(retriever, "WireGuard VPN"))
    assert nodes[0].node.metadata["doc_id"] == "wiki:vpn"
