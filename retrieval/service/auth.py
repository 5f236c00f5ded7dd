"""API-key authentication as a FastAPI dependency: 401 without a valid key, 403 without a
capability."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from retrieval.service.errors import ServiceError
from retrieval.service.keys import ApiKeyRecord, ApiKeyStore, Capability, KeysFileError
from retrieval.service.metrics import ServiceMetrics

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer pmx_<id>_<secret>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: pmx_...")

_UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}


def authenticator(
    keys: ApiKeyStore, metrics: ServiceMetrics
) -> Callable[..., Awaitable[ApiKeyRecord]]:
    async def authenticate(
        bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
        header_key: str | None = Depends(_header),
    ) -> ApiKeyRecord:
        presented = header_key or (bearer.credentials if bearer else None)
        if not presented:
            metrics.auth_failures.labels("401").inc()
            raise ServiceError(
                401,
                "unauthenticated",
                "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers=_UNAUTHENTICATED,
            )
        try:
            record = keys.verify(presented)
        except KeysFileError as exc:
            # Fail closed: with an unreadable keys file nobody is let in.
            raise ServiceError(
                503, "keys_unavailable", "API keys cannot be loaded; see the server log"
            ) from exc
        if record is None:
            metrics.auth_failures.labels("401").inc()
            raise ServiceError(
                401, "unauthenticated", "invalid or revoked API key", headers=_UNAUTHENTICATED
            )
        return record

    return authenticate


def require(record: ApiKeyRecord, capability: Capability, metrics: ServiceMetrics) -> None:
    if not record.allows(capability):
        metrics.auth_failures.labels("403").inc()
        raise ServiceError(
            403,
            "forbidden",
            f"API key {record.name!r} lacks the {capability.value!r} capability",
        )
