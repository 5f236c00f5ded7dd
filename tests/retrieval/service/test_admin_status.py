"""``GET /v1/admin/status``: what ``permindex status`` shows, for admin keys only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from indexer.backends import Stores
from indexer.state_store import RunRecord, ScopeError
from retrieval.identity import IdentityResolver
from retrieval.searcher import Searcher
from retrieval.service.admin_status import status_router
from retrieval.service.app import create_app
from retrieval.service.keys import ApiKeyStore
from retrieval.service.settings import ServiceSettings
from tests.retrieval.service.conftest import bearer


def test_admin_status_reports_scopes_lag_and_last_error_and_needs_admin(
    indexed: Stores,
    searcher: Searcher,
    identities: IdentityResolver,
    keys_path: Path,
    api_keys: dict[str, str],
) -> None:
    now = datetime.now(UTC)
    ok = RunRecord(
        run_id="r1",
        source_id="wiki",
        run_type="incremental",
        status="succeeded",
        started_at=now - timedelta(minutes=10),
        ended_at=now - timedelta(minutes=9),
        scope="ENG",
    )
    broken = ok.model_copy(
        update={
            "run_id": "r2",
            "status": "partial",
            "scope": "HR",
            "failed_scopes": [ScopeError(scope="HR", reason="403 from the space")],
        }
    )
    indexed.state.save_run(ok)
    indexed.state.save_run(broken)
    app = create_app(
        searcher,
        identities,
        ApiKeyStore.from_file(keys_path),
        ServiceSettings(keys_file=keys_path),
        stores=indexed,
        routers=[status_router],
        source_ids=["wiki", "tickets"],
    )
    with TestClient(app) as http:
        assert http.get("/v1/admin/status", headers=bearer(api_keys["search"])).status_code == 403
        assert http.get("/v1/admin/status").status_code == 401
        answer = http.get("/v1/admin/status", headers=bearer(api_keys["admin"]))
    assert answer.status_code == 200
    sources = {entry["source_id"]: entry for entry in answer.json()["sources"]}
    assert sources["tickets"]["configured"] and sources["tickets"]["last_run"] is None
    scopes = {scope["scope"]: scope for scope in sources["wiki"]["scopes"]}
    assert scopes["ENG"]["last_status"] == "succeeded"
    assert 500 < scopes["ENG"]["lag_seconds"] < 700
    assert scopes["HR"]["last_error"] == "403 from the space"
