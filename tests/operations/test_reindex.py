"""Re-indexing while sync writes go on: nothing written during the copy is lost after the swap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from indexer.backends import Stores
from indexer.embedding import Embedder
from indexer.operations import reindex as reindex_module
from indexer.operations.reindex import ReindexReport
from indexer.records import AclUpdate, SearchFilters
from tests.conformance.builders import ALICE, BOB
from tests.operations.helpers import HashEmbedder, doc_ids, found, seed_state, write_docs


def _reindex(
    stores: Stores, on_page: Callable[[int], None] | None, embedder: Embedder | None = None
) -> ReindexReport:
    if stores.index.name == "embedded":
        from indexer.operations.reindex_embedded import reindex_embedded

        return reindex_embedded(stores, on_page=on_page, embedder=embedder)
    from indexer.operations.reindex_opensearch import reindex_opensearch

    return reindex_opensearch(
        stores,
        clock=lambda: datetime.now(UTC),
        on_page=on_page,
        embedder=embedder,
    )


def test_writes_during_the_copy_survive_the_swap(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reindex_module, "PAGE", 10)
    before = set(write_docs(stores, "wiki", 50))
    seed_state(stores, "wiki")
    during: set[str] = set()
    pages = 0

    def sync_meanwhile(copied: int) -> None:
        # A sync run writing while the copy goes on: new documents, an edit, a revocation and a
        # deletion, on documents the copy has already passed and on some it has not reached.
        nonlocal pages
        pages += 1
        if pages == 2:
            during.update(write_docs(stores, "wiki", 15, start=100, tag="new"))
            write_docs(stores, "wiki", 1, start=3, tag="edited")
            stores.index.replace_acls(
                [AclUpdate(doc_id="wiki:d5", acl=frozenset({BOB}), acl_fingerprint="bob")]
            )
            stores.index.replace_acls(
                [AclUpdate(doc_id="wiki:d45", acl=frozenset({BOB}), acl_fingerprint="bob")]
            )
            stores.index.delete_documents(["wiki:d7", "wiki:d40"])
            stores.index.refresh()
        # Searches keep answering from the old index all through the copy.
        assert "wiki:d1" in found(stores, "wiki")

    report = _reindex(stores, sync_meanwhile)

    assert pages > 2 and report.passes >= 2
    stores.index.refresh()
    visible = found(stores, "wiki")
    assert during <= visible
    assert visible == (before | during) - {"wiki:d5", "wiki:d45", "wiki:d7", "wiki:d40"}
    assert found(stores, "wiki", principal=BOB) == {"wiki:d5", "wiki:d45"}
    assert found(stores, "edited") == {"wiki:d3"}
    assert doc_ids(stores, "wiki") == (before | during) - {"wiki:d7", "wiki:d40"}
    # Sync state survives the swap, and runs go on writing to the new index.
    assert stores.state.get_checkpoint("wiki") is not None
    write_docs(stores, "wiki", 1, start=500, tag="after")
    assert found(stores, "after") == {"wiki:d500"}


@pytest.mark.parametrize("backend_kind", ["embedded"])
def test_a_new_model_re_embeds_into_a_new_file(stores: Stores, tmp_path: Path) -> None:
    write_docs(stores, "wiki", 12)
    model = HashEmbedder(dimension=16)
    report = _reindex(stores, None, embedder=model)
    assert report.documents == 12
    stores.close()
    from indexer.backends.embedded import open_embedded
    from indexer.settings import EmbeddedSettings

    path = Path(report.new)
    reopened = open_embedded(EmbeddedSettings(path=path), 16)
    try:
        query = model.embed_documents(["Document d4 > Space > Parent\n\nledger wiki number4 v1"])[0]
        hits = reopened.index.vector_search(query, frozenset({ALICE}), SearchFilters(), 1)
        assert [hit.doc_id for hit in hits] == ["wiki:d4"]
    finally:
        reopened.close()
