"""Configuration of one Google Drive source, as the composition root reads it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.org import Email
from connectors.registry import SourceSettings
from connectors.secrets import Secret


class ServiceAccountAuth(BaseModel):
    """A service account with domain-wide delegation: it impersonates the Directory's users.

    ``admin_email`` is the account impersonated for the Directory API and the shared drives; it
    must be an administrator that can read every shared drive the source covers.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["service_account"] = "service_account"
    # The JSON key file, by reference ({file: PATH} or {env: NAME}).
    key: Secret
    admin_email: Email


class OAuthUserAuth(BaseModel):
    """One user's OAuth credentials (authorized-user JSON): that user's My Drive and drives.

    No Directory access: group grants admit nobody (their members are unknown).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["oauth_user"] = "oauth_user"
    # The authorized-user JSON (client_id, client_secret, refresh_token), by reference.
    token: Secret
    user_email: Email


class GoogleDriveSettings(SourceSettings):
    type: Literal["google_drive"] = "google_drive"
    auth: Annotated[ServiceAccountAuth | OAuthUserAuth, Field(discriminator="kind")]
    # Endpoints are injectable for emulators and private access points; None: Google's.
    drive_endpoint: str | None = None
    directory_endpoint: str | None = None
    # Where credentials are exchanged for access tokens. None: the key file's ``token_uri``
    # for a service account, Google's for OAuth user credentials (google-auth ignores the
    # ``token_uri`` of an authorized-user file).
    token_endpoint: str | None = None
    include_shared_drives: bool = True
    include_my_drives: bool = True
    max_file_bytes: int = Field(default=20_000_000, ge=1)
    # Google exports at most 10 MB of a Docs/Sheets/Slides file.
    max_export_bytes: int = Field(default=10_000_000, ge=1)
    page_size: int = Field(default=100, ge=1, le=1000)
    request_timeout_s: float = Field(default=60.0, gt=0)
