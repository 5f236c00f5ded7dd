"""Prometheus metrics of sync runs, registered once in the default registry at import."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DOCUMENTS = Counter(
    "permindex_sync_documents_total",
    "Documents handled by sync runs, by outcome",
    ["source", "outcome"],  # created updated unchanged acl_updated deleted failed
)
CHUNKS_WRITTEN = Counter(
    "permindex_sync_chunks_written_total", "Chunks written to the index", ["source"]
)
EMBEDDINGS = Counter(
    "permindex_sync_embeddings_total", "Chunk texts embedded by sync runs", ["source"]
)
ERRORS = Counter(
    "permindex_sync_errors_total",
    "Sync errors: per-document ones (run goes on) and systemic ones (run stops)",
    ["source", "kind"],  # document | systemic
)
RUNS = Counter("permindex_sync_runs_total", "Finished sync runs", ["source", "run_type", "status"])
RUN_SECONDS = Histogram(
    "permindex_sync_run_seconds",
    "Wall time of sync runs",
    ["source", "run_type", "status"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600),
)
EMBED_BATCH_SECONDS = Histogram(
    "permindex_embedding_batch_seconds",
    "Wall time of one embedding batch",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
