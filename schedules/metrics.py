"""Prometheus metrics of the queue (run durations are ``indexer.metrics.RUN_SECONDS``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

QUEUE_DEPTH = Gauge(
    "permindex_queue_depth", "Scope-run requests waiting in the broker's queue", ["queue"]
)
QUEUE_UNACKED = Gauge(
    "permindex_queue_unacked",
    "Scope-run requests delivered to a worker and not acknowledged (running or retrying)",
    ["queue"],
)
ENQUEUED = Counter(
    "permindex_queue_enqueued_total", "Scope-run requests enqueued", ["source", "run_type"]
)
DUPLICATES_DROPPED = Counter(
    "permindex_queue_duplicates_dropped_total",
    "Redelivered requests dropped because an earlier run had answered them",
    ["source"],
)
LEADER = Gauge("permindex_scheduler_leader", "1 while this scheduler holds the leader lease")
