"""schemathesis against a real ``permindex serve``: every operation the OpenAPI document lists
(routers added by extensions included), called with a search key, a search + assert_groups key
and an admin key, with valid and invalid inputs. Every default check must pass: no 5xx, status
codes, content types, headers and bodies as documented, invalid input refused, valid input
accepted. No key's secret may then be found in the server's output or its audit file."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import positive_data_acceptance

from tests.api.deployment import indexed_workspace, make_keys, secret_of
from tests.security import serve as serving
from tests.security.serve import Server, Workspace, serve

# Per operation; the keys take turns, so each one meets every operation. Invalid inputs cost
# far more to generate than valid ones.
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 6}
USER_OPERATIONS = {
    "/v1/search",
    "/v1/documents/{doc_id}",
    "/v1/admin/access/explain",
    "/v1/admin/access/diff",
}
# The diff's time is a free string too (ISO or 2h): a schema-valid one may be unparsable, in
# the future or older than the access journal keeps.
IDENTITY_CODES = {"invalid_identity", "invalid_user", "invalid_since"}


@dataclass
class Served:
    workspace: Workspace
    server: Server
    keys: dict[str, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workspace = indexed_workspace(tmp_path_factory.mktemp("schemathesis"))
    keys = make_keys(workspace)
    with pytest.MonkeyPatch.context() as patch:
        # The server imports the whole service; on a busy 2-core runner that can take a minute.
        patch.setattr(serving, "START_TIMEOUT_S", 180.0)
        with serve(workspace) as server:
            yield Served(workspace, server, keys)


def _operations(served: Served) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{served.server.url}/openapi.json")
    # An operation schemathesis cannot read is a failure of the document, not one to skip.
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_as_documented(served: Served, mode: GenerationMode) -> None:
    operations = _operations(served)
    assert {op.path for op in operations} >= {"/v1/search", "/v1/documents/{doc_id}"}
    keys = itertools.cycle(served.keys.values())
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES[mode],
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Case) -> None:
            # The email pattern cannot say "stable under NFKC, no unassigned or private-use
            # code points", which the resolver also demands: a schema-valid address may still
            # get 422 invalid_identity. Every other check, and every other operation, stays.
            positive = mode is GenerationMode.POSITIVE
            excluded = [positive_data_acceptance] if case.operation.path in USER_OPERATIONS else []
            excluded = excluded if positive else []
            response = case.call_and_validate(
                headers={"Authorization": f"Bearer {next(keys)}"},
                excluded_checks=excluded,
            )
            if excluded and response.status_code == 422:
                # Refused by the address rule alone, nothing else the schema allowed.
                assert response.json()["error"]["code"] in IDENTITY_CODES, response.text

        try:
            check()
        except Unsatisfiable:
            # No invalid input exists for an operation without parameters (/healthz).
            if mode is not GenerationMode.NEGATIVE:
                raise

    written = served.server.stderr()
    audit = "".join(path.read_text() for path in served.workspace.root.glob("*audit*.jsonl"))
    assert audit, "the searches left no audit record"
    for name, key in served.keys.items():
        assert secret_of(key) not in written, f"the {name} key's secret is in the server's output"
        assert secret_of(key) not in audit, f"the {name} key's secret is in the audit file"
