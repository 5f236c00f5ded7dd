"""Google Drive's credentials never reach a log record (google-auth's, the API client's and
httplib2's DEBUG logs included), the run record or an exception.

The source is configured as a user configures it: a service-account key file (or an OAuth
client's ``authorized_user`` file), read as a ``Secret`` from ``{file: PATH}``, whose
``token_uri`` (part of every such file Google issues) names the token endpoint emulator.
google-auth signs its JWT grants with the key (or sends the refresh token), the endpoint answers
access tokens, and the Drive and Directory emulators accept only those. Mid-run the credential
is revoked as Google revokes it: the access tokens are refused with 401 and, when the key is
deleted (the consent withdrawn), the token endpoint refuses every new grant with 400
``invalid_grant``. Then the private key, its id, the client secret, the refresh token, every
access token and every signed grant are looked for in what the run wrote.
"""

from __future__ import annotations

import logging
import random
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.google_drive import GoogleDriveSettings, from_config
from indexer.backends.embedded import open_embedded
from indexer.embedding import HashingEmbedder
from indexer.retry import RetryPolicy
from indexer.run_types import RunType
from indexer.runner import SyncRunner
from indexer.settings import ChunkingSettings, EmbeddedSettings
from tests.connectors.google_drive.workspace import ADMIN, ALICE, BOB, ORG, fast_policy
from tests.emulators.google_directory import DirectoryEmulator
from tests.emulators.google_drive import DriveEmulator
from tests.emulators.google_oauth import (
    GoogleTokenEmulator,
    TokenBook,
    new_authorized_user,
    new_key,
)

EMBEDDER = HashingEmbedder(16)
SERVICE_ACCOUNT = "permindex-sync@permindex-emulated.iam.gserviceaccount.com"


def _pem_body(pem: str) -> list[str]:
    """The key's base64 lines: a log that prints part of the key prints one of these."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


@pytest.mark.parametrize("kind", ["service_account", "oauth_user"])
@pytest.mark.parametrize("revocation", ["tokens revoked", "key deleted"])
def test_a_revoked_google_credential_is_written_nowhere(
    kind: str, revocation: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    book = TokenBook()
    rng = random.Random(5)
    key = new_key(rng, SERVICE_ACCOUNT)
    consent = new_authorized_user(rng, book, ALICE)
    with (
        GoogleTokenEmulator(key, book) as oauth,
        DriveEmulator(admin=ADMIN, users=(ALICE, BOB), tokens=book) as drive,
        DirectoryEmulator(admin=ADMIN, users=(ALICE, BOB), tokens=book) as directory,
    ):
        eng = drive.add_drive("Engineering", {ALICE: "organizer"})
        for n in range(8):
            drive.add_file(f"Spec {n}", f"zebra spec {n}", drive=eng)
        drive.add_file("Diary", "zebra diary", owner=BOB)
        drive.add_file("Notes", "zebra notes", owner=ALICE)
        directory.add_group("eng@acme.com", ALICE, BOB)
        secret_file = tmp_path / "google-credential.json"
        auth: dict[str, object]
        endpoints: dict[str, str] = {}
        if kind == "service_account":
            # The key file names its token endpoint, as every key file Google issues does.
            secret_file.write_text(key.key_file(oauth.token_uri), encoding="utf-8")
            auth = {"kind": kind, "key": {"file": str(secret_file)}, "admin_email": ADMIN}
        else:
            # google-auth ignores an authorized-user file's token_uri: the setting names it.
            secret_file.write_text(consent.token_file("https://unused.invalid/"), encoding="utf-8")
            auth = {"kind": kind, "token": {"file": str(secret_file)}, "user_email": ALICE}
            endpoints = {"token_endpoint": oauth.token_uri}
        settings = GoogleDriveSettings.model_validate(
            {
                "type": "google_drive",
                "id": "gdrive",
                **endpoints,
                "auth": auth,
                "drive_endpoint": f"{drive.url}/drive/v3/",
                "directory_endpoint": f"{directory.url}/",
                "page_size": 3,
            }
        )
        connector = from_config(settings, ORG, lambda: datetime.now(UTC), policy=fast_policy())
        stores = open_embedded(EmbeddedSettings(path=tmp_path / "index.sqlite"), 16)
        stores.index.ensure_schema()

        def run(run_type: RunType) -> list[str]:
            written: list[str] = []
            runner = SyncRunner(
                connector,
                stores,
                EMBEDDER,
                chunking=ChunkingSettings(chunk_size=64, chunk_overlap=8),
                model_name="hashing:16",
                clock=lambda: datetime.now(UTC),
                lease_ttl=timedelta(seconds=30),
                retry=RetryPolicy(attempts=1),
            )
            try:
                record = runner.run(run_type)
                written.append(record.model_dump_json())
            except Exception as exc:  # a stopped run may raise; its text is checked too
                written.append("".join(traceback.format_exception(exc)))
            return written

        caplog.set_level(logging.DEBUG)
        try:
            # The credential works: the key signs grants and the APIs take the tokens.
            first_runs = [RunType.groups] if connector.capabilities.groups else []
            written = [text for run_type in [*first_runs, RunType.full] for text in run(run_type)]
            assert book.tokens and (book.assertions or kind == "oauth_user")
            first = stores.state.recent_runs()
            assert all(r.status == "succeeded" for r in first), [r.message for r in first]

            drive.edit(drive.add_file("Late", "zebra late", drive=eng), "zebra later")
            drive.revoke_auth_after(4)
            if revocation == "key deleted":
                oauth.key_deleted = lambda: bool(drive.revoked_tokens)
            written += run(RunType.full)
            records = stores.state.recent_runs()
            written += [r.model_dump_json() for r in records]
            last = records[0]
            assert last.status == "failed", (last.status, last.message)
            assert "credential refused" in (last.message or "")
            if revocation == "key deleted":
                assert "invalid_grant" in (last.message or "")
        finally:
            stores.close()
        assert drive.take_violations() == [] and directory.take_violations() == []

    written += [f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records]
    assert any(r.levelno >= logging.WARNING for r in caplog.records), "nothing was logged"
    assert any(r.levelno == logging.DEBUG for r in caplog.records), "no DEBUG log was captured"
    secrets = [key.private_key, key.key_id, *_pem_body(key.private_key)]
    secrets += [consent.client_secret, consent.refresh_token]
    secrets += list(book.tokens) + book.assertions
    for secret in secrets:
        leaks = [text[:200] for text in written if secret in text]
        assert not leaks, f"{revocation}: a secret was written: {leaks}"
