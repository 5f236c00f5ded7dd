"""Building the connector from its configuration, for the composition root."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from connectors.gateway import GatewayRetryPolicy, TokenBucket
from connectors.jira.config import JiraSourceConfig
from connectors.jira.connector import JiraConnector
from connectors.jira.gateway import JiraGateway
from connectors.org import OrgPolicy

# Atlassian limits per tenant by cost points; ten requests a second stays well inside them.
_RATE_PER_S = 10.0


def from_config(
    config: JiraSourceConfig,
    org: OrgPolicy,
    clock: Callable[[], datetime] | None = None,
    *,
    retry: GatewayRetryPolicy | None = None,
) -> JiraConnector:
    gateway = JiraGateway(
        str(config.base_url),
        config.auth,
        retry=retry,
        budget=TokenBucket(_RATE_PER_S, burst=20),
        timeout_s=config.timeout_s,
    )
    return JiraConnector(
        source_id=config.id,
        gateway=gateway,
        org=org,
        clock=clock or (lambda: datetime.now(UTC)),
        projects=config.projects,
        exclude_projects=config.exclude_projects,
        jql=config.jql,
        overlap_s=config.overlap_s,
        max_pages=config.max_pages,
    )
