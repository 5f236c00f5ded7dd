"""A small indexed deployment for tests that talk to the service: the folder workspace of
``tests/security/serve.py``, synced and keyed in-process (each CLI start costs seconds)."""

from __future__ import annotations

from pathlib import Path

from indexer.run_types import RunType
from permindex.config import load_config
from permindex.runtime import open_runtime
from retrieval.service.keys import Capability, create_key, parse_key
from schedules import commands
from tests.security.serve import SOURCE, Workspace

ALICE = "alice@acme.com"
GRANTS = {
    "search": {Capability.SEARCH},
    "assert_groups": {Capability.SEARCH, Capability.ASSERT_GROUPS},
    "admin": {Capability.SEARCH, Capability.ASSERT_GROUPS, Capability.ADMIN},
}


def indexed_workspace(root: Path, **service: object) -> Workspace:
    workspace = Workspace(root, service=dict(service))
    workspace.write_config()
    workspace.allow("alice", ALICE)
    workspace.write("alice/quasar.md", "# Quasar\n\nThe quasar alarm fired twice.\n")
    with open_runtime(load_config(workspace.config)) as runtime:
        commands.sync(runtime, SOURCE, RunType.full)
    return workspace


def make_keys(workspace: Workspace) -> dict[str, str]:
    """Capability set name -> the full key (``pmx_<id>_<secret>``)."""
    keys_file = workspace.root / "keys.yaml"
    return {name: create_key(keys_file, f"svc-{name}", caps)[1] for name, caps in GRANTS.items()}


def secret_of(key: str) -> str:
    """The secret part of a full key: what must never be written anywhere."""
    parsed = parse_key(key)
    assert parsed is not None, "not a permindex key"
    return parsed[1]
