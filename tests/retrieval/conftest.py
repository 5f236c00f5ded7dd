"""Fixtures: the corpus of ``corpus.py`` indexed with real MiniLM vectors on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexer.backend import IndexBackend
from indexer.backends import Stores
from indexer.embedding import Embedder
from indexer.records import DocumentWrite
from retrieval.identity import IdentityResolver
from retrieval.searcher import Searcher
from retrieval.settings import RetrievalSettings
from tests.retrieval.corpus import (
    NOW,
    ORG,
    ListAuditSink,
    MakeSearcher,
    document_writes,
    sync_directory,
)


@pytest.fixture
def dimension(embedder: Embedder) -> int:
    return embedder.dimension


@pytest.fixture(scope="session")
def corpus_writes(embedder: Embedder) -> list[DocumentWrite]:
    return document_writes(embedder)


@pytest.fixture
def indexed(stores: Stores, corpus_writes: list[DocumentWrite]) -> Stores:
    result = stores.index.write_documents(corpus_writes)
    assert not result.failed
    stores.index.refresh()
    sync_directory(stores)
    return stores


@pytest.fixture
def audit_sink() -> ListAuditSink:
    return ListAuditSink()


@pytest.fixture
def make_searcher(
    indexed: Stores, embedder: Embedder, audit_sink: ListAuditSink
) -> Iterator[MakeSearcher]:
    def make(index: IndexBackend | None = None, **overrides: object) -> Searcher:
        settings = RetrievalSettings.model_validate({"org": ORG, **overrides})
        return Searcher(
            index or indexed.index, embedder, settings, audit=audit_sink, clock=lambda: NOW
        )

    yield make


@pytest.fixture
def searcher(make_searcher: MakeSearcher) -> Searcher:
    return make_searcher()


@pytest.fixture
def identities(indexed: Stores) -> IdentityResolver:
    return IdentityResolver(indexed.directory, ORG)
