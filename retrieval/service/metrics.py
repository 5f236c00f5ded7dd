"""Prometheus metrics of one service instance, on its own registry, plus the retrieval
metrics that live in the process-wide one."""

from __future__ import annotations

from prometheus_client import PROCESS_COLLECTOR, CollectorRegistry, Counter, Histogram

from retrieval.acl_check import ACL_VIOLATIONS
from retrieval.searcher import SEARCH_SECONDS


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # Retrieval counts in the process-wide registry (the searcher is not per service);
        # registered here too so /metrics serves them: ACL re-check violations above all.
        for collector in (ACL_VIOLATIONS, SEARCH_SECONDS, PROCESS_COLLECTOR):
            self.registry.register(collector)
        self.requests = Counter(
            "permindex_http_requests_total",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "permindex_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.searches = Counter(
            "permindex_searches_total",
            "Searches answered, by mode.",
            ["mode"],
            registry=self.registry,
        )
        self.search_results = Histogram(
            "permindex_search_results",
            "Results returned per search.",
            buckets=(0, 1, 2, 5, 10, 20, 50, 100),
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "permindex_auth_failures_total",
            "Requests refused by authentication (401) or authorisation (403).",
            ["status"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "permindex_rejected_total",
            "Requests refused for a limit: body_too_large, overloaded, timeout, index_unavailable.",
            ["reason"],
            registry=self.registry,
        )
