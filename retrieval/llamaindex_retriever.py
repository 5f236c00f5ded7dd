"""A LlamaIndex retriever over permindex: permission-trimmed nodes with citation metadata.

Works with any ``SearchClient`` (HTTP ``PermindexClient`` or ``InProcessClient``); the user it
searches for is fixed per retriever, so a retriever cannot be pointed at someone else's view.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from retrieval.client import SearchClient
from retrieval.models import SearchResult

# Citation keys every node carries; only title and url are shown to the LLM and the embedder.
CITATION_KEYS = (
    "doc_id",
    "chunk_id",
    "title",
    "url",
    "source",
    "doc_type",
    "updated_at",
    "highlights",
    "breadcrumbs",
)
_HIDDEN_FROM_MODELS = [k for k in CITATION_KEYS if k not in ("title", "url")]


def result_to_node(result: SearchResult) -> NodeWithScore:
    node = TextNode(
        id_=result.chunk_id,
        text=result.text,
        metadata={
            "doc_id": result.doc_id,
            "chunk_id": result.chunk_id,
            "title": result.title,
            "url": result.url,
            "source": result.source_id,
            "doc_type": result.doc_type,
            "updated_at": result.updated_at.isoformat(),
            "highlights": list(result.highlights),
            "breadcrumbs": list(result.breadcrumbs),
        },
        excluded_embed_metadata_keys=list(_HIDDEN_FROM_MODELS),
        excluded_llm_metadata_keys=list(_HIDDEN_FROM_MODELS),
    )
    return NodeWithScore(node=node, score=result.score.final)


class PermindexRetriever(BaseRetriever):
    """``retrieve(query)`` -> the user's permitted chunks as ``NodeWithScore``, best first.

    ``options`` are ``SearchQuery`` fields applied to every query (mode, top_k, sources, ...).
    """

    def __init__(
        self,
        client: SearchClient,
        user: str,
        *,
        groups: Iterable[str] = (),
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(callback_manager=callback_manager, verbose=verbose)
        self._client = client
        self._user = user
        self._groups = tuple(groups)
        self._options = options

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        response = self._client.search(
            self._user, query_bundle.query_str, groups=self._groups, **self._options
        )
        return [result_to_node(result) for result in response.results]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        # The clients are synchronous; keep the event loop free while they wait.
        return await asyncio.to_thread(self._retrieve, query_bundle)
