"""One JSON error shape for every refusal: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ServiceError(Exception):
    """A refusal with a status, a stable machine-readable code and a human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


# What every authenticated JSON operation may answer besides its success, for ``responses=`` of
# a route (routers in extensions too): the OpenAPI document then lists each status the service
# really returns. 400 and 413 come from the body-size middleware and FastAPI's body parser, 503
# from the bounded pool, an index outage or an unreadable keys file, 504 from the time budget.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "the body is not parsable JSON, or the Content-Length header is invalid",
        401: "missing, invalid or revoked API key",
        403: "the key lacks a capability (search, assert_groups, admin)",
        413: "request body too large",
        422: "invalid input or over a limit (top_k, query length, groups)",
        503: "overloaded, the index is unavailable, or the API keys cannot be loaded",
        504: "the request did not finish within the time budget",
    }.items()
}

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
            for err in exc.errors()
        ]
        fields = ", ".join(".".join(str(part) for part in d["loc"]) for d in details)
        # The schema's email and group patterns refuse what the identity resolver would: the
        # same code as before they existed. A missing field stays an invalid request.
        identity = details and all(
            _identity_field(d["loc"]) and d["type"] != "missing" for d in details
        )
        code = "invalid_identity" if identity else "invalid_request"
        return error_response(422, code, f"invalid request: {fields}", details)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Logged in full here; the caller learns nothing about internals.
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "internal error; see the server log")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, str(exc.detail), None, headers)


def _identity_field(loc: list[Any]) -> bool:
    """``user``, or one item of ``groups`` (``[..., "groups", 3]``)."""
    names = [part for part in loc if isinstance(part, str)]
    return bool(names) and names[-1] in ("user", "groups")
