"""SaaS tokens never reach a log record (the SDKs' and urllib3's DEBUG logs included), the run
record or an exception: each connector syncs against its emulator until the emulator revokes
the token mid-run, and everything the run wrote is searched for the token.

Google Drive is in ``test_secrets_google_drive.py``: its credentials come from a key or token
file through google-auth and a token endpoint emulator."""

from __future__ import annotations

import base64
import logging
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from indexer.backends.embedded import open_embedded
from indexer.embedding import HashingEmbedder
from indexer.retry import RetryPolicy
from indexer.run_types import RunType
from indexer.runner import SyncRunner
from indexer.settings import ChunkingSettings, EmbeddedSettings
from tests.connectors.conformance.kits import discovered_kits
from tests.emulators.base import Emulator

EMBEDDER = HashingEmbedder(16)


def _secrets(emulator: Emulator) -> list[str]:
    """Every token the emulator issued, with the forms an HTTP client would send them in."""
    state: Any = emulator.state
    raw: list[str] = []
    if hasattr(state, "tokens"):  # Slack: token -> identity
        raw += list(state.tokens)
    if hasattr(state, "api_token"):  # Confluence: basic auth email:api_token, or OAuth bearer
        raw += [state.api_token, state.bearer_token]
        raw.append(base64.b64encode(f"{state.email}:{state.api_token}".encode()).decode())
    if hasattr(state, "credentials"):  # Jira: email -> API token, and OAuth bearer tokens
        raw += list(state.credentials.values()) + list(state.bearer_tokens)
        raw += [
            base64.b64encode(f"{email}:{token}".encode()).decode()
            for email, token in state.credentials.items()
        ]
    return [secret for secret in raw if secret]


def _emulator_of(kit: object) -> Emulator:
    found = [value for value in vars(kit).values() if isinstance(value, Emulator)]
    assert len(found) == 1, f"{kit!r} has {len(found)} emulators"
    return found[0]


@pytest.mark.parametrize("kit_name", ["confluence", "jira", "slack"])
def test_a_revoked_token_is_written_nowhere(
    kit_name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_kit = discovered_kits()[kit_name]
    kits = make_kit(tmp_path)
    kit = next(kits)
    try:
        emulator = _emulator_of(kit)
        secrets = _secrets(emulator)
        assert secrets, f"no token found for {kit_name}"
        # A few calls succeed, then the token is refused: the run stops on an auth error.
        emulator.revoke_auth_after(3)
        stores = open_embedded(EmbeddedSettings(path=tmp_path / "index.sqlite"), 16)
        caplog.set_level(logging.DEBUG)
        written: list[str] = []
        try:
            runner = SyncRunner(
                kit.connector(),
                stores,
                EMBEDDER,
                chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
                model_name="hashing:16",
                clock=lambda: datetime.now(UTC),
                lease_ttl=timedelta(seconds=3),
                retry=RetryPolicy(attempts=1),
            )
            try:
                record = runner.run(RunType.full)
                written.append(record.model_dump_json())
                assert record.status != "completed", f"{kit_name}: the revoked token went unseen"
            except Exception as exc:  # a stopped run may raise; its text is checked too
                written.append("".join(traceback.format_exception(exc)))
            written += [r.model_dump_json() for r in stores.state.recent_runs()]
        finally:
            stores.close()
    finally:
        next(kits, None)  # lets the kit stop its emulator
    written += [f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records]
    assert any(r.levelno >= logging.WARNING for r in caplog.records), "nothing was logged"
    for secret in secrets:
        leaks = [text[:200] for text in written if secret in text]
        assert not leaks, f"{kit_name}: a token was written: {leaks}"
