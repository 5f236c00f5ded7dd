"""What every SaaS gateway shares: retries, Retry-After, rate limits and status mapping.

Gateways sit between a connector and its SDK or HTTP client; nothing here imports the indexer.
"""

from connectors.gateway.http_errors import (
    DRIVE_RATE_LIMIT_REASONS,
    NotFound,
    RequestRejected,
    error_for_status,
    error_for_transport,
    raise_for_status,
)
from connectors.gateway.interrupt import StopRequested, interruptible_sleep
from connectors.gateway.policy import GatewayRetryPolicy
from connectors.gateway.rate_limit import Budget, BudgetsPerKey, TokenBucket
from connectors.gateway.retry_after import parse_retry_after, retry_after_from_headers

__all__ = [
    "DRIVE_RATE_LIMIT_REASONS",
    "Budget",
    "BudgetsPerKey",
    "GatewayRetryPolicy",
    "NotFound",
    "RequestRejected",
    "StopRequested",
    "TokenBucket",
    "error_for_status",
    "error_for_transport",
    "interruptible_sleep",
    "parse_retry_after",
    "raise_for_status",
    "retry_after_from_headers",
]
