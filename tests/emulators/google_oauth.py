"""Google's OAuth 2.0 token endpoint for service accounts, on the emulator base.

A service-account key file names its token endpoint (``token_uri``); google-auth signs a JWT
with the key's private key (RS256, the key id in the header, ``sub`` the impersonated user,
``aud`` Google's token endpoint) and posts it as a JWT bearer grant
(https://developers.google.com/identity/protocols/oauth2/service-account#httprest). The
endpoint checks the signature against the key's public half and answers an access token; the
Drive and Directory emulators accept the tokens it issued (``TokenBook``). The refresh-token
grant of an OAuth client (``authorized_user`` credentials) is answered too. A key deleted in the
console makes Google answer 400 ``invalid_grant`` "Invalid JWT Signature." (a revoked refresh
token: "Token has been expired or revoked."); this emulator does the same once ``key_deleted``
says so. No spec document covers this endpoint: its exchanges
are not validated against one.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions as auth_exceptions
from google.auth import jwt

from tests.emulators.base import ApiRequest, ApiResponse, Emulator, Handler

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH = "refresh_token"
TOKEN_PATH = "/token"
# The audience google-auth signs into every grant, whatever endpoint the key file names.
AUDIENCE = "https://oauth2.googleapis.com/token"


@dataclass
class TokenBook:
    """What the token endpoint issued: access tokens (-> the user each stands for) and the
    signed assertions it was sent, for the APIs to accept and for tests to look for."""

    tokens: dict[str, str] = field(default_factory=dict)
    assertions: list[str] = field(default_factory=list)
    # OAuth clients of installed apps: refresh token -> (client id, client secret, user).
    refresh_tokens: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def subject(self, token: str) -> str | None:
        with self.lock:
            return self.tokens.get(token)


@dataclass(frozen=True)
class ServiceAccountKey:
    """A service account's key as the console downloads it (the JSON key file)."""

    key_id: str
    private_key: str  # PEM
    public_key: str  # PEM
    client_email: str

    def key_file(self, token_uri: str) -> str:
        return json.dumps(
            {
                "type": "service_account",
                "project_id": "permindex-emulated",
                "private_key_id": self.key_id,
                "private_key": self.private_key,
                "client_email": self.client_email,
                "client_id": "100000000000000000001",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": token_uri,
            }
        )


@dataclass(frozen=True)
class AuthorizedUser:
    """One user's consent to an OAuth client: the ``authorized_user`` JSON google-auth reads."""

    client_id: str
    client_secret: str
    refresh_token: str
    user: str

    def token_file(self, token_uri: str) -> str:
        return json.dumps(
            {
                "type": "authorized_user",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "refresh_token": self.refresh_token,
                "token_uri": token_uri,
            }
        )


def new_authorized_user(rng: random.Random, book: TokenBook, user: str) -> AuthorizedUser:
    found = AuthorizedUser(
        client_id=f"{rng.getrandbits(48)}-emulated.apps.googleusercontent.com",
        client_secret=f"GOCSPX-{rng.getrandbits(128):032x}",
        refresh_token=f"1//0{rng.getrandbits(256):064x}",
        user=user,
    )
    with book.lock:
        book.refresh_tokens[found.refresh_token] = (found.client_id, found.client_secret, user)
    return found


def new_key(rng: random.Random, client_email: str) -> ServiceAccountKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return ServiceAccountKey(f"{rng.getrandbits(160):040x}", pem, public, client_email)


class GoogleTokenEmulator(Emulator):
    document = None
    state: TokenBook

    def __init__(self, key: ServiceAccountKey, tokens: TokenBook, *, seed: int = 0) -> None:
        self.key = key
        self._book = tokens
        # Whether the key has been deleted (checked on each grant): then every grant is refused.
        self.key_deleted: Callable[[], bool] = lambda: False
        super().__init__(seed=seed)

    @property
    def token_uri(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    def seed_state(self, rng: random.Random) -> TokenBook:
        return self._book

    def default_handlers(self) -> dict[str, Handler]:
        return {"oauth2.token": self.token}

    def route_of(self, method: str, path: str) -> str | None:
        return "oauth2.token" if method == "POST" and path == TOKEN_PATH else None

    def token_known(self, token: str) -> bool:
        return False  # the endpoint takes no bearer token

    def token(self, request: ApiRequest) -> ApiResponse:
        grant = request.form.get("grant_type")
        if grant == REFRESH:
            return self._refresh(request)
        if grant != JWT_BEARER:
            return _oauth_error(400, "unsupported_grant_type", "Invalid grant_type.")
        assertion = request.form.get("assertion", "")
        self.state.assertions.append(assertion)
        if self.key_deleted():
            return _oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion, certs={self.key.key_id: self.key.public_key}, audience=AUDIENCE
            )
        except (ValueError, auth_exceptions.GoogleAuthError):
            return _oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        if claims.get("iss") != self.key.client_email or not claims.get("scope"):
            return _oauth_error(400, "invalid_grant", "Invalid JWT: unknown issuer or no scope.")
        return self._issue(str(claims.get("sub") or claims["iss"]))

    def _refresh(self, request: ApiRequest) -> ApiResponse:
        with self.state.lock:
            known = self.state.refresh_tokens.get(request.form.get("refresh_token", ""))
        if known is None or self.key_deleted():
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        client_id, client_secret, user = known
        sent = (request.form.get("client_id"), request.form.get("client_secret"))
        if sent != (client_id, client_secret):
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        return self._issue(user)

    def _issue(self, subject: str) -> ApiResponse:
        access = f"ya29.{secrets.token_urlsafe(48)}"
        with self.state.lock:
            self.state.tokens[access] = subject
        return ApiResponse(
            body={"access_token": access, "expires_in": 3599, "token_type": "Bearer"}
        )


def _oauth_error(status: int, error: str, description: str) -> ApiResponse:
    return ApiResponse(status, {"error": error, "error_description": description})
