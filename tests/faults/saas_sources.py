"""Each SaaS connector on its seeded emulator, built with a one-second request timeout.

The seeded sources are the conformance kits' (tests/connectors/conformance); only the
connectors differ: a short client timeout, so a held response times out in a second, and
retries without real waits.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from pydantic import SecretStr

from connectors.contract import Connector
from connectors.gateway import BudgetsPerKey, GatewayRetryPolicy, TokenBucket
from tests.emulators.base import Emulator

TIMEOUT_S = 1


def now() -> datetime:
    return datetime.now(UTC)


def policy() -> GatewayRetryPolicy:
    return GatewayRetryPolicy(attempts=4, sleep=lambda _s: None)


@dataclass
class SaasSource:
    """A connector factory and the emulator its faults are injected into."""

    name: str
    source_id: str
    emulator: Emulator
    connector: Callable[[], Connector]
    # Routes answering with a file's bytes rather than JSON.
    raw_routes: frozenset[str] = frozenset()


def _confluence(kit: Any) -> SaasSource:
    from connectors.confluence import ConfluenceConnector
    from connectors.confluence.gateway import ConfluenceGateway
    from tests.connectors.confluence.helpers import ORG, SOURCE

    site = kit.site

    def make() -> Connector:
        gateway = ConfluenceGateway(
            site.url,
            email=site.state.email,
            api_token=site.state.api_token,
            policy=policy(),
            page_size=4,
            restriction_page_size=100,
            timeout_s=TIMEOUT_S,
        )
        return ConfluenceConnector(source_id=SOURCE, gateway=gateway, org=ORG, clock=now)

    return SaasSource("confluence", SOURCE, site, make)


def _jira(kit: Any) -> SaasSource:
    from connectors.jira.config import ApiTokenAuth
    from connectors.jira.connector import JiraConnector
    from connectors.jira.gateway import JiraGateway
    from tests.connectors.jira.harness import ORG, SOURCE

    jira = kit.jira

    def make() -> Connector:
        email = "bot@acme.com"
        auth = ApiTokenAuth(email=email, token=SecretStr(jira.state.credentials[email]))
        gateway = JiraGateway(jira.url, auth, retry=policy(), timeout_s=TIMEOUT_S)
        return JiraConnector(source_id=SOURCE, gateway=gateway, org=ORG, clock=now)

    return SaasSource("jira", SOURCE, jira, make)


def _slack(kit: Any) -> SaasSource:
    from connectors.slack import SlackConnector
    from connectors.slack.gateway import SlackGateway
    from tests.connectors.slack.workspace import ORG, SOURCE

    slack = kit.slack

    def make() -> Connector:
        budgets = BudgetsPerKey(lambda _method: TokenBucket(10_000.0, 10_000.0))
        gateway = SlackGateway(
            slack.state.bot_token,
            base_url=slack.url + "/api/",
            policy=policy(),
            budgets=budgets,
            timeout=TIMEOUT_S,
        )
        return SlackConnector(source_id=SOURCE, gateway=gateway, org=ORG, clock=now)

    return SaasSource("slack", SOURCE, slack, make, frozenset({"files.download"}))


def _google_drive(kit: Any) -> SaasSource:
    from tests.connectors.google_drive.workspace import SOURCE, connector

    def make() -> Connector:
        return connector(kit.drive, kit.directory, request_timeout_s=TIMEOUT_S)

    raw = frozenset({"drive.files.get", "drive.files.export"})
    return SaasSource("google_drive", SOURCE, kit.drive, make, raw)


ADAPTERS: dict[str, Callable[[Any], SaasSource]] = {
    "confluence": _confluence,
    "jira": _jira,
    "slack": _slack,
    "google_drive": _google_drive,
}


@contextmanager
def saas_source(name: str, tmp_path: Path) -> Iterator[SaasSource]:
    from tests.connectors.conformance.kits import discovered_kits

    # make_kit functions are generators (typed as iterators): closed when the test fails.
    generator = cast(Generator[Any, None, None], discovered_kits()[name](tmp_path))
    kit = next(generator)
    try:
        yield ADAPTERS[name](kit)
    except BaseException:
        generator.close()
        raise
    # The kit's own checks after its source is used: no traffic broke the API's document.
    next(generator, None)
