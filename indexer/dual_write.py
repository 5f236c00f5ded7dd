"""Writes to the serving index and, while a re-index is in progress, to its target as well.

Every writer (a sync run's pipeline and pruning, delete-source, retention) writes through
``dual_writes(stores)``. Each write call first reads the re-index marker
(``indexer.operations.reindex_marker``); with none set it is the serving index's write, unchanged.
With one set, the same write goes to the serving index first and then to the target:

- Serving first, so what searches see is narrowed (a revocation, a deletion) before anything
  else happens, and so the copy, which reads the serving index and checks it again after
  writing a page, cannot leave an older version in the target (see ``reindex.Copier``).
- A document the serving index refuses is deleted from the target too: it holds no older
  version that could come back with the swap.
- A target write that fails raises ``TargetWriteError`` (an ``IndexUnavailableError``): the run
  stops without advancing its checkpoint, like any index failure, and is never skipped. The
  re-index's last pass, with every writer held off, compares both indices and copies what still
  differs, so a serving write whose mirror failed is not left behind.
- An ACL or fields update of a document the target does not hold yet is not a failure: the copy
  has not reached it, and will read it from the serving index, which already has the update.
- Writes without an ``indexed_at`` get one here, the same on both sides, so the two indices'
  fingerprints compare equal.
- With a new model (``--reembed``) the target's chunks are embedded again with that model.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from indexer.backend import IndexBackend, IndexUnavailableError
from indexer.backends import Stores
from indexer.embedding import Embedder, make_embedder
from indexer.operations.reindex_marker import MarkerStore, ReindexMarker, marker_store_for
from indexer.records import (
    AclUpdate,
    ChunkWrite,
    DocFingerprint,
    DocumentWrite,
    FieldsUpdate,
    Hit,
    IndexStats,
    SearchFilters,
    WriteResult,
)
from indexer.state_store import StateStore

U = TypeVar("U", AclUpdate, FieldsUpdate)


class TargetWriteError(IndexUnavailableError):
    """The re-index target refused a write the serving index took: the run must stop."""


# Models a re-indexing process built itself (not from settings), by re-index id.
_EMBEDDERS: dict[str, Embedder] = {}


def register_target_embedder(reindex_id: str, embedder: Embedder) -> None:
    _EMBEDDERS[reindex_id] = embedder


def forget_target_embedder(reindex_id: str) -> None:
    _EMBEDDERS.pop(reindex_id, None)


def target_embedder(marker: ReindexMarker) -> Embedder | None:
    """The target's model, or None when the target takes the serving index's vectors."""
    if not marker.reembed:
        return None
    registered = _EMBEDDERS.get(marker.reindex_id)
    if registered is not None:
        return registered
    if marker.embedding is None:
        raise TargetWriteError(
            f"re-index {marker.reindex_id} embeds with a model this process cannot build:"
            " resume it (`permindex reindex --resume --reembed`) or abort it"
        )
    return make_embedder(marker.embedding)


class Target:
    """The target index of one re-index, as a writer process opened it."""

    def __init__(
        self, marker: ReindexMarker, index: IndexBackend, embedder: Embedder | None, owned: bool
    ) -> None:
        self.marker = marker
        self.index = index
        self.embedder = embedder
        self._owned = owned  # False when it shares the serving index's connection

    def write_documents(self, writes: Sequence[DocumentWrite]) -> WriteResult:
        if self.embedder is not None:
            writes = reembed(writes, self.embedder)
        return self.index.write_documents(writes)

    def close(self) -> None:
        if self._owned:
            self.index.close()


class _Targets:
    """The target a serving index's writers opened, reopened when the marker changes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: Target | None = None

    def get(self, marker: ReindexMarker | None, serving: IndexBackend) -> Target | None:
        with self.lock:
            current = self.current
            if current is not None and (
                marker is None or current.marker.reindex_id != marker.reindex_id
            ):
                self.current = None
                current.close()
            if marker is None:
                return None
            if self.current is None:
                self.current = open_target(marker, serving)
            return self.current


_TARGETS: weakref.WeakKeyDictionary[IndexBackend, _Targets] = weakref.WeakKeyDictionary()
_TARGETS_LOCK = threading.Lock()


def open_target(marker: ReindexMarker, serving: IndexBackend) -> Target:
    """Open the marker's target without creating it: a target that is gone is an error."""
    embedder = target_embedder(marker)
    if marker.backend == "embedded":
        from indexer.backends.embedded import open_embedded
        from indexer.settings import EmbeddedSettings

        path = Path(marker.target)
        if not path.exists():
            raise TargetWriteError(
                f"re-index target {path} is missing: abort it with `permindex reindex --abort`"
            )
        stores = open_embedded(EmbeddedSettings(path=path), marker.dimension)
        return Target(marker, stores.index, embedder, owned=True)
    from indexer.backends.opensearch.aliases import alias_target
    from indexer.backends.opensearch.index import OpenSearchIndex

    if not isinstance(serving, OpenSearchIndex):
        raise TargetWriteError(f"re-index {marker.reindex_id} targets OpenSearch")
    settings = serving.settings.model_copy(update={"index_prefix": marker.target})
    index = OpenSearchIndex(serving.gw, settings, marker.dimension)
    if None in (
        alias_target(serving.gw, index.names.chunks),
        alias_target(serving.gw, index.names.documents),
    ):
        raise TargetWriteError(
            f"re-index target {marker.target} is missing: abort it with `permindex reindex --abort`"
        )
    # Present, as just checked: a writer must never create a target, nor rebuild one with
    # its own (possibly older) schema, which ensure_schema would do on the first write.
    index._schema_ready = True
    return Target(marker, index, embedder, owned=False)


def _targets_of(serving: IndexBackend, *, create: bool) -> _Targets | None:
    """The targets opened for ``serving``, shared by every writer of that index object."""
    with _TARGETS_LOCK:
        try:
            targets = _TARGETS.get(serving)
            if targets is None and create:
                targets = _TARGETS[serving] = _Targets()
        except TypeError:  # an index object that cannot be a weak key: nothing shared
            targets = _Targets() if create else None
        return targets


class DualWriteIndex:
    """An ``IndexBackend`` whose writes also reach the re-index target while one is set."""

    def __init__(self, serving: IndexBackend, state: StateStore) -> None:
        self.serving = serving
        self.name = serving.name
        self.dimension = serving.dimension
        self._markers: MarkerStore = marker_store_for(state)
        self._targets: _Targets | None = None

    def target(self) -> Target | None:
        """The target to mirror to, read from the marker now (every write asks again)."""
        marker = self._markers.get()
        if self._targets is None:
            self._targets = _targets_of(self.serving, create=marker is not None)
            if self._targets is None:
                return None
        return self._targets.get(marker, self.serving)

    # -- writes -----------------------------------------------------------------------------

    def write_documents(self, writes: Sequence[DocumentWrite]) -> WriteResult:
        target = self.target()
        if target is None:
            return self.serving.write_documents(writes)
        stamped = [_stamped(w) for w in writes]
        result = self.serving.write_documents(stamped)
        if result.failed:
            # Not written to the serving index (OpenSearch removes such a document whole): the
            # target must not keep an older version, perhaps under a wider ACL, either.
            _on_target(target.index.delete_documents, [f.doc_id for f in result.failed])
        written = set(result.written)
        mirrored = _on_target(target.write_documents, [w for w in stamped if w.doc_id in written])
        if mirrored.failed:
            first = mirrored.failed[0]
            raise TargetWriteError(
                f"re-index target refused {len(mirrored.failed)} document(s)"
                f" ({first.doc_id}: {first.reason})"
            )
        return result

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        target = self.target()
        self.serving.delete_documents(doc_ids)
        if target is not None:
            _on_target(target.index.delete_documents, doc_ids)

    def replace_acls(self, updates: Sequence[AclUpdate]) -> WriteResult:
        target = self.target()
        if target is None:
            return self.serving.replace_acls(updates)
        stamped = [_stamped(u) for u in updates]
        result = self.serving.replace_acls(stamped)
        _mirror_updates(target, stamped, result, target.index.replace_acls)
        return result

    def update_fields(self, updates: Sequence[FieldsUpdate]) -> WriteResult:
        target = self.target()
        if target is None:
            return self.serving.update_fields(updates)
        stamped = [_stamped(u) for u in updates]
        result = self.serving.update_fields(stamped)
        _mirror_updates(target, stamped, result, target.index.update_fields)
        return result

    def refresh(self) -> None:
        self.serving.refresh()
        target = self.target()
        if target is not None:
            _on_target(target.index.refresh)

    # -- everything else is the serving index's ---------------------------------------------

    def ensure_schema(self) -> None:
        self.serving.ensure_schema()

    def iter_fingerprints(self, source_id: str) -> Iterator[DocFingerprint]:
        return self.serving.iter_fingerprints(source_id)

    def fingerprints_of(self, doc_ids: Sequence[str]) -> dict[str, DocFingerprint]:
        return self.serving.fingerprints_of(doc_ids)

    # Search options (``highlight``...) pass through as the serving index takes them.
    def keyword_search(
        self,
        query: str,
        principals: frozenset[str],
        filters: SearchFilters,
        k: int,
        **options: bool,
    ) -> list[Hit]:
        return self.serving.keyword_search(query, principals, filters, k, **options)

    def vector_search(
        self, vector: Sequence[float], principals: frozenset[str], filters: SearchFilters, k: int
    ) -> list[Hit]:
        return self.serving.vector_search(vector, principals, filters, k)

    def hybrid_candidates(
        self,
        query: str,
        vector: Sequence[float],
        principals: frozenset[str],
        filters: SearchFilters,
        k: int,
        **options: bool,
    ) -> tuple[list[Hit], list[Hit]]:
        return self.serving.hybrid_candidates(query, vector, principals, filters, k, **options)

    def highlights(
        self, query: str, chunk_ids: Sequence[str], principals: frozenset[str]
    ) -> dict[str, list[str]]:
        # Untyped: newer in the contract than this wrapper, which fits either version.
        serving: Any = self.serving
        result: dict[str, list[str]] = serving.highlights(query, chunk_ids, principals)
        return result

    def get_document_chunks(self, doc_id: str, principals: frozenset[str]) -> list[Hit]:
        return self.serving.get_document_chunks(doc_id, principals)

    def stats(self) -> IndexStats:
        return self.serving.stats()

    def close(self) -> None:
        # The serving index belongs to the stores; the target cache closes with the marker.
        return None


def dual_writes(stores: Stores) -> IndexBackend:
    """The index a writer writes through: the serving one, plus a re-index target when set."""
    return DualWriteIndex(stores.index, stores.state)


def _mirror_updates(
    target: Target,
    updates: list[U],
    result: WriteResult,
    apply: Callable[[Sequence[U]], WriteResult],
) -> None:
    written = set(result.written)
    mirrored = _on_target(apply, [u for u in updates if u.doc_id in written])
    if not mirrored.failed:
        return
    failed = [f.doc_id for f in mirrored.failed]
    # Absent from the target: the copy has not reached it and will read the updated document.
    held = _on_target(target.index.fingerprints_of, failed)
    refused = [f for f in mirrored.failed if f.doc_id in held]
    if refused:
        raise TargetWriteError(
            f"re-index target refused {len(refused)} update(s)"
            f" ({refused[0].doc_id}: {refused[0].reason})"
        )


W = TypeVar("W", DocumentWrite, AclUpdate, FieldsUpdate)
R = TypeVar("R")


def _on_target(call: Callable[..., R], *args: object) -> R:
    try:
        return call(*args)
    except TargetWriteError:
        raise
    except IndexUnavailableError as exc:
        raise TargetWriteError(f"re-index target unavailable: {exc}") from exc


def _stamped(write: W) -> W:
    if write.indexed_at is not None:
        return write
    return write.model_copy(update={"indexed_at": datetime.now(UTC)})


def reembed(writes: Sequence[DocumentWrite], embedder: Embedder) -> list[DocumentWrite]:
    """``writes`` with every chunk's vector from ``embedder`` (the target's model)."""
    texts = [embed_text(write, chunk.text) for write in writes for chunk in write.chunks]
    vectors = iter(embedder.embed_documents(texts)) if texts else iter(())
    return [
        write.model_copy(
            update={
                "chunks": [
                    ChunkWrite(index=c.index, text=c.text, vector=list(next(vectors)))
                    for c in write.chunks
                ]
            }
        )
        for write in writes
    ]


def embed_text(write: DocumentWrite, text: str) -> str:
    # As ``indexer.chunking.embedding_text`` without the section path, which is not stored.
    header = " > ".join(part for part in (write.title.strip(), *write.breadcrumbs) if part)
    return f"{header}\n\n{text}" if header else text
