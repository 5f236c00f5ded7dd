"""Credentials: a key by reference, OAuth user mode, and a credential revoked mid-run."""

from __future__ import annotations

import json

import pytest

from connectors.errors import ConnectorConfigError
from connectors.google_drive import GoogleDriveSettings, from_config
from connectors.google_drive.gateway_drive import DRIVE_SCOPES, credentials_factory
from indexer.runner import RunType
from tests.connectors.google_drive.workspace import (
    ALICE,
    BOB,
    CAROL,
    ORG,
    Workspace,
    fast_policy,
    now,
    runner,
)
from tests.emulators.google_drive import credentials_for


def test_a_credential_revoked_mid_run_stops_it_and_deletes_nothing(workspace: Workspace) -> None:
    ws, drive = workspace, workspace.drive
    eng = drive.add_drive("Engineering", {ALICE: "organizer"})
    drive.add_file("Kept", "zebra kept", drive=eng)
    assert ws.run(RunType.full).status == "succeeded"
    kept = drive.add_file("Later", "zebra later", drive=eng)
    drive.delete(kept)

    drive.revoke_auth_after(3)
    record = ws.run(RunType.full)

    assert record.status == "failed"
    assert "credential refused" in (record.message or "")
    assert ws.found("zebra", ALICE) == {"Kept"}


def test_oauth_user_credentials_read_that_users_drive_and_admit_no_group(
    workspace: Workspace,
) -> None:
    ws, drive = workspace, workspace.drive
    drive.add_file("Own", "zebra own", owner=CAROL)
    drive.add_file(
        "Group shared",
        "zebra group",
        owner=CAROL,
        grants=[drive.grant(type="group", email="eng@acme.com")],
    )
    drive.add_file("Not hers", "zebra not hers", owner=BOB)
    ws.directory.add_group("eng@acme.com", ALICE)
    settings = GoogleDriveSettings.model_validate(
        {
            "type": "google_drive",
            "id": "gdrive",
            "auth": {"kind": "oauth_user", "token": "unused", "user_email": CAROL},
            "drive_endpoint": f"{drive.url}/drive/v3/",
        }
    )
    connector = from_config(
        settings, ORG, now, credentials_for=credentials_for, policy=fast_policy()
    )
    assert not connector.capabilities.groups

    assert runner(connector, ws.stores).run(RunType.full).status == "succeeded"

    assert ws.found("zebra", CAROL) == {"Own", "Group shared"}
    assert ws.found("zebra", ALICE) == set()  # no Directory: the group's members are unknown
    assert ws.found("zebra", BOB) == set()


def _settings(auth: dict[str, object]) -> GoogleDriveSettings:
    return GoogleDriveSettings.model_validate({"type": "google_drive", "id": "g", "auth": auth})


def test_an_unusable_key_is_a_configuration_error_that_does_not_echo_it() -> None:
    settings = _settings(
        {"kind": "service_account", "key": "not json, secret-ish", "admin_email": ALICE}
    )
    with pytest.raises(ConnectorConfigError) as raised:
        credentials_factory(settings, DRIVE_SCOPES)
    assert "secret-ish" not in str(raised.value)


def test_oauth_user_credentials_act_only_as_their_user() -> None:
    token = {
        "client_id": "c",
        "client_secret": "s",
        "refresh_token": "r",
        "type": "authorized_user",
    }
    settings = _settings({"kind": "oauth_user", "token": json.dumps(token), "user_email": CAROL})
    credentials = credentials_factory(settings, DRIVE_SCOPES)
    assert credentials(CAROL) is credentials(CAROL)
    with pytest.raises(ConnectorConfigError):
        credentials(ALICE)
