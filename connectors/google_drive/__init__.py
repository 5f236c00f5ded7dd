"""Google Drive connector: shared drives and My Drives, Changes API incremental, exact grants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from connectors.gateway import GatewayRetryPolicy
from connectors.google_drive.config import GoogleDriveSettings, OAuthUserAuth, ServiceAccountAuth
from connectors.google_drive.connector import GoogleDriveConnector
from connectors.google_drive.gateway_directory import DirectoryGateway
from connectors.google_drive.gateway_drive import (
    DIRECTORY_SCOPES,
    DRIVE_SCOPES,
    CredentialsFor,
    DriveGateway,
    credentials_factory,
)
from connectors.org import OrgPolicy
from connectors.registry import SourceType


def from_config(
    settings: GoogleDriveSettings,
    org: OrgPolicy,
    clock: Callable[[], datetime],
    *,
    credentials_for: CredentialsFor | None = None,
    policy: GatewayRetryPolicy | None = None,
) -> GoogleDriveConnector:
    """The connector for ``settings``; ``credentials_for`` replaces the key (emulators)."""
    policy = policy if policy is not None else GatewayRetryPolicy()
    delegated = isinstance(settings.auth, ServiceAccountAuth)
    admin = settings.auth.admin_email if delegated else settings.auth.user_email  # type: ignore[union-attr]
    drive_creds = credentials_for or credentials_factory(settings, DRIVE_SCOPES)
    drive = DriveGateway(
        drive_creds,
        policy,
        endpoint=settings.drive_endpoint,
        page_size=settings.page_size,
        timeout_s=settings.request_timeout_s,
        admin_access=delegated,
    )
    directory = None
    if delegated:
        directory = DirectoryGateway(
            credentials_for or credentials_factory(settings, DIRECTORY_SCOPES),
            admin,
            policy,
            endpoint=settings.directory_endpoint,
            timeout_s=settings.request_timeout_s,
        )
    return GoogleDriveConnector(
        source_id=settings.id,
        drive=drive,
        directory=directory,
        admin_email=admin,
        org=org,
        clock=clock,
        include_shared_drives=settings.include_shared_drives,
        include_my_drives=settings.include_my_drives,
        max_file_bytes=settings.max_file_bytes,
        max_export_bytes=settings.max_export_bytes,
    )


SOURCE_TYPE = SourceType(
    name="google_drive",
    settings=GoogleDriveSettings,
    build=lambda config, org, clock: from_config(config, org, clock),
)

__all__ = [
    "SOURCE_TYPE",
    "GoogleDriveConnector",
    "GoogleDriveSettings",
    "OAuthUserAuth",
    "ServiceAccountAuth",
    "from_config",
]
