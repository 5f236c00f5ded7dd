"""One deployment per module: a folder source indexed with ``permindex sync``, keys made with
``permindex keys create``, and one ``permindex serve`` process, all run from a working directory
that is not the config's folder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.security.serve import Server, Workspace, serve

ALICE = "alice@acme.com"
BOB = "bob@acme.com"
CAROL = "carol@acme.com"

HOSTILE = (
    "# Quasar incident\n\n"
    'The quasar alarm showed <img src=x onerror="alert(1)"> on the board, and the wiki '
    "rendered &lt;script&gt;alert(2)&lt;/script&gt; beside the quasar graph.\n"
)


@dataclass
class Deployment:
    workspace: Workspace
    server: Server
    keys: dict[str, str]


def build_workspace(root: Path) -> Workspace:
    # One search worker and no queue: anything else holding the pool shows up as a 503 at once.
    workspace = Workspace(root, service={"workers": 1, "max_queued": 0})
    workspace.write_config()
    # Access goes to named users only: org membership is not what these tests are about.
    workspace.allow("alice", ALICE)
    workspace.allow("bob", BOB)
    workspace.allow("hidden", CAROL)
    workspace.write("alice/quasar.md", HOSTILE)
    workspace.write(
        "alice/billing-short.md",
        "# Billing outage\n\nThe billing outage lasted an hour.\n",
    )
    workspace.write(
        "alice/billing-long.md",
        "# Billing review\n\nA long review of the quarter: invoices, refunds, the new ledger, "
        "the migration of old accounts, and one billing outage on a Tuesday that cost a day "
        "of invoices before the team rolled the release back.\n",
    )
    workspace.write("bob/zebrafish.md", "# Zebrafish lab\n\nOnly bob reads the zebrafish notes.\n")
    workspace.sync()
    return workspace


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    workspace = build_workspace(tmp_path_factory.mktemp("deployment"))
    keys = {
        "search": workspace.create_key("support-bot", "search"),
        "trusted": workspace.create_key("portal", "search", "assert_groups"),
        "admin": workspace.create_key("prometheus", "admin"),
        "operator": workspace.create_key("oncall", "search", "admin"),
    }
    with serve(workspace) as server:
        yield Deployment(workspace=workspace, server=server, keys=keys)
