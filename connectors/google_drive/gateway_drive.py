"""The one place the Drive v3 API is called (google-api-python-client, static discovery).

The client's own retries stay off (``execute(num_retries=0)``); every call goes through the
shared ``GatewayRetryPolicy``. Drive refuses for quota with 403 ``userRateLimitExceeded`` or
``rateLimitExceeded`` and with 429, never with a Retry-After: those become ``RetryableError``
without ``retry_after``, so the policy backs off with full jitter. Credentials are built here
too (this module and ``gateway_directory`` are the only ones importing Google's libraries).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import Credentials
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from connectors.errors import ConnectorConfigError, RetryableError, SourceUnavailableError
from connectors.gateway import (
    DRIVE_RATE_LIMIT_REASONS,
    GatewayRetryPolicy,
    NotFound,
    RequestRejected,
    error_for_status,
    error_for_transport,
)
from connectors.google_drive.config import GoogleDriveSettings, ServiceAccountAuth
from connectors.google_drive.models import (
    ChangePage,
    DriveFile,
    DrivePermission,
    SharedDrive,
)

DRIVE_SCOPES = ("https://www.googleapis.com/auth/drive.readonly",)
DIRECTORY_SCOPES = (
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
)
FILE_FIELDS = (
    "id,name,mimeType,parents,driveId,trashed,modifiedTime,createdTime,size,md5Checksum,"
    "owners(emailAddress),webViewLink,inheritedPermissionsDisabled,resourceKey,"
    "shortcutDetails(targetId,targetMimeType,targetResourceKey)"
)
PERMISSION_FIELDS = (
    "nextPageToken,permissions(id,type,role,emailAddress,domain,allowFileDiscovery,deleted,"
    "expirationTime,permissionDetails(permissionType,role,inherited,inheritedFrom))"
)
# 403 reasons that concern one file (a reader who may not list its permissions, a file that
# cannot be downloaded or exported), as opposed to a credential or scope refused.
FILE_REFUSALS = frozenset(
    {"insufficientFilePermissions", "fileNotDownloadable", "exportSizeLimitExceeded"}
)
# Comma-separated ``fileId/resourceKey`` pairs; one pair per request here.
RESOURCE_KEYS_HEADER = "X-Goog-Drive-Resource-Keys"
# Google's documented maximum page size of permissions.list.
PERMISSIONS_PAGE = 100

# subject (the impersonated user's email) -> credentials for it.
CredentialsFor = Callable[[str], Credentials]


class InvalidPageToken(Exception):
    """changes.list refused the saved page token (expired or malformed): list the scope."""


def credentials_factory(settings: GoogleDriveSettings, scopes: tuple[str, ...]) -> CredentialsFor:
    """Credentials from the configured key: impersonating ``subject``, or the one OAuth user."""
    auth = settings.auth
    if isinstance(auth, ServiceAccountAuth):
        try:
            info = json.loads(auth.key.get_secret_value())
            base = service_account.Credentials.from_service_account_info(info, scopes=scopes)
            if settings.token_endpoint:
                base = base.with_token_uri(settings.token_endpoint)
        except (ValueError, KeyError) as exc:
            reason = type(exc).__name__
            raise ConnectorConfigError(f"unusable service account key: {reason}") from None

        def delegated(subject: str) -> Credentials:
            return base.with_subject(subject)

        return delegated
    try:
        user = user_credentials.Credentials.from_authorized_user_info(
            json.loads(auth.token.get_secret_value()), scopes=list(scopes)
        )
        if settings.token_endpoint:
            user = user.with_token_uri(settings.token_endpoint)
    except (ValueError, KeyError) as exc:
        raise ConnectorConfigError(f"unusable OAuth user token: {type(exc).__name__}") from None
    allowed = auth.user_email

    def as_user(subject: str) -> Credentials:
        if subject != allowed:
            raise ConnectorConfigError(f"OAuth user credentials cannot act as {subject}")
        return user

    return as_user


def authorized_http(credentials: Credentials, timeout_s: float) -> Any:
    return google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout_s))


_COLLECTIONS: dict[tuple[str, str, str | None, str], Any] = {}
_COLLECTIONS_LOCK = threading.Lock()


def collection(api: str, version: str, endpoint: str | None, name: str) -> Any:
    """One resource collection (``files``) of the API, built once per process.

    The client builds every method of a collection, docstrings included, on each access, at a
    cost of tens of milliseconds; built once, it only makes requests, and every request is
    executed with the subject's own authorised connection (``execute(http=...)``), so one
    collection serves every impersonated user.
    """
    key = (api, version, endpoint, name)
    with _COLLECTIONS_LOCK:
        found = _COLLECTIONS.get(key)
        if found is None:
            options = {"api_endpoint": endpoint} if endpoint else None
            service = build(
                api,
                version,
                http=httplib2.Http(),
                client_options=options,
                static_discovery=True,
                cache_discovery=False,
            )
            found = _COLLECTIONS[key] = getattr(service, name)()
        return found


def execute(policy: GatewayRetryPolicy, request: Any, http: Any, what: str) -> Any:
    """``request.execute()`` as ``http``'s subject under the shared policy; 404 -> ``NotFound``."""

    def once() -> Any:
        try:
            answer = request.execute(http=http, num_retries=0)
        except HttpError as exc:
            raise_mapped(exc, what)
            return NotFound(what)
        except auth_exceptions.RefreshError as exc:
            # The token endpoint refused the key (deleted, disabled, delegation revoked): a
            # credential refused. Only the OAuth error code is kept; the rest is not needed.
            code = _oauth_error_code(exc)
            if exc.retryable:  # the endpoint's own 5xx or 429, after google-auth's retries
                raise RetryableError(f"{what}: token endpoint busy ({code})") from None
            raise SourceUnavailableError(
                f"{what}: token endpoint refused the credential ({code}), credential refused"
            ) from None
        except auth_exceptions.TransportError as exc:
            raise RetryableError(
                f"{what}: token endpoint unreachable: {type(exc).__name__}"
            ) from None
        except (OSError, httplib2.HttpLib2Error) as exc:
            transport = error_for_transport(exc, what=what)
            if transport is not None:
                raise transport from exc
            raise RetryableError(f"{what}: {type(exc).__name__}: {exc}") from exc
        if isinstance(answer, str):
            # The client's JSON model hands back a body it cannot decode as a string instead
            # of raising (media downloads are bytes): cut short in transit, asked again.
            raise RetryableError(f"{what}: body is not JSON (cut short?)")
        return answer

    return policy.call(once)


def _oauth_error_code(exc: auth_exceptions.RefreshError) -> str:
    details = exc.args[1] if len(exc.args) > 1 else None
    code = details.get("error") if isinstance(details, dict) else None
    return str(code) if isinstance(code, str) and code.isidentifier() else "refused"


def raise_mapped(exc: HttpError, what: str) -> None:
    """Raise what ``exc`` stands for; return only for a 404."""
    status = int(exc.resp.status)
    reason = error_reason(exc)
    if status == 403 and reason in FILE_REFUSALS:
        # One file refused to this subject, not a credential revoked: fail that file only.
        raise RequestRejected(f"{what}: HTTP 403 ({reason})", status) from exc
    outcome = error_for_status(
        status,
        {str(k): str(v) for k, v in dict(exc.resp).items()},
        what=f"{what} ({reason})" if reason else what,
        forbidden_is_rate_limit=reason in DRIVE_RATE_LIMIT_REASONS,
    )
    if isinstance(outcome, NotFound):
        return
    if outcome is None:
        raise RequestRejected(f"{what}: HTTP {status}", status) from exc
    raise outcome from exc


def error_reason(exc: HttpError) -> str:
    try:
        body = json.loads(exc.content.decode("utf-8"))
        errors = body["error"].get("errors") or [{}]
        return str(errors[0].get("reason") or "")
    except (ValueError, KeyError, AttributeError, TypeError, IndexError):
        return ""


class DriveGateway:
    """Drive v3 for one source: one client per impersonated subject, made on first use."""

    def __init__(
        self,
        credentials_for: CredentialsFor,
        policy: GatewayRetryPolicy,
        *,
        endpoint: str | None = None,
        page_size: int = 100,
        timeout_s: float = 60.0,
        admin_access: bool = True,
    ) -> None:
        self._credentials_for = credentials_for
        self._policy = policy
        self._endpoint = endpoint
        self._page_size = page_size
        self._timeout_s = timeout_s
        self._admin_access = admin_access
        self._https: dict[str, Any] = {}

    def _api(self, name: str) -> Any:
        return collection("drive", "v3", self._endpoint, name)

    def _call(self, subject: str, request: Any, what: str) -> Any:
        http = self._https.get(subject)
        if http is None:
            http = authorized_http(self._credentials_for(subject), self._timeout_s)
            self._https[subject] = http
        return execute(self._policy, request, http, what)

    def use_stop(self, stop: threading.Event) -> None:
        """Waits of this run end when ``stop`` is set (the run's SIGTERM)."""
        self._policy = dataclasses.replace(self._policy, stop=stop)

    def fork(self) -> DriveGateway:
        """The same access with its own connections and stop event, for another run (a scope
        run may share a process with others; httplib2 connections are not thread-safe)."""
        return DriveGateway(
            self._credentials_for,
            self._policy,
            endpoint=self._endpoint,
            page_size=self._page_size,
            timeout_s=self._timeout_s,
            admin_access=self._admin_access,
        )

    def shared_drives(self, subject: str) -> list[SharedDrive]:
        """Every shared drive (domain admin access when impersonating an admin)."""
        drives: list[SharedDrive] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"pageSize": 100, "fields": "nextPageToken,drives(id,name)"}
            if self._admin_access:
                params["useDomainAdminAccess"] = True
            if token:
                params["pageToken"] = token
            page = self._call(subject, self._api("drives").list(**params), "drives.list")
            if isinstance(page, NotFound):
                raise RequestRejected("drives.list: HTTP 404", 404)
            drives += [SharedDrive.model_validate(d) for d in page.get("drives", [])]
            token = page.get("nextPageToken")
            if not token:
                return drives

    def drive_exists(self, subject: str, drive_id: str) -> bool:
        params: dict[str, Any] = {"driveId": drive_id, "fields": "id"}
        if self._admin_access:
            params["useDomainAdminAccess"] = True
        found = self._call(subject, self._api("drives").get(**params), f"drives.get {drive_id}")
        return not isinstance(found, NotFound)

    def start_page_token(self, subject: str, drive_id: str | None) -> str:
        params: dict[str, Any] = {"supportsAllDrives": True}
        if drive_id:
            params["driveId"] = drive_id
        answer = self._call(
            subject,
            self._api("changes").getStartPageToken(**params),
            "changes.getStartPageToken",
        )
        if isinstance(answer, NotFound) or not answer.get("startPageToken"):
            raise RequestRejected("changes.getStartPageToken: no token", 404)
        return str(answer["startPageToken"])

    def change_pages(self, subject: str, token: str, drive_id: str | None) -> Iterator[ChangePage]:
        """Pages of changes from ``token``; the last page carries ``new_start_page_token``."""
        fields = (
            "nextPageToken,newStartPageToken,changes(changeType,removed,fileId,driveId,"
            f"file({FILE_FIELDS}))"
        )
        while True:
            params: dict[str, Any] = {
                "pageToken": token,
                "pageSize": self._page_size,
                "supportsAllDrives": True,
                "includeRemoved": True,
                "spaces": "drive",
                "fields": fields,
            }
            if drive_id:
                params |= {"driveId": drive_id, "includeItemsFromAllDrives": True}
            else:
                # A user's feed: My Drive and shared-with-me; shared drives have their own feeds.
                params["includeItemsFromAllDrives"] = False
            request = self._api("changes").list(**params)
            try:
                answer = self._call(subject, request, "changes.list")
            except RequestRejected as exc:
                if exc.status == 400:
                    raise InvalidPageToken(str(exc)) from exc
                raise
            if isinstance(answer, NotFound):
                raise InvalidPageToken("changes.list: HTTP 404")
            page = ChangePage.model_validate(answer)
            yield page
            if not page.next_page_token:
                return
            token = page.next_page_token

    def file_pages(
        self, subject: str, drive_id: str | None, query: str
    ) -> Iterator[list[DriveFile]]:
        """files.list pages: a shared drive's files (``drive_id``) or the subject's own."""
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "q": query,
                "pageSize": self._page_size,
                "supportsAllDrives": True,
                "fields": f"nextPageToken,files({FILE_FIELDS})",
            }
            if drive_id:
                params |= {"corpora": "drive", "driveId": drive_id}
                params["includeItemsFromAllDrives"] = True
            else:
                params |= {"corpora": "user", "includeItemsFromAllDrives": False}
            if token:
                params["pageToken"] = token
            answer = self._call(subject, self._api("files").list(**params), "files.list")
            if isinstance(answer, NotFound):
                raise RequestRejected("files.list: HTTP 404", 404)
            yield [DriveFile.model_validate(f) for f in answer.get("files", [])]
            token = answer.get("nextPageToken")
            if not token:
                return

    def file(self, subject: str, file_id: str, resource_key: str | None = None) -> DriveFile | None:
        """The file as ``subject`` sees it; None when it is gone or invisible to them.

        ``resource_key``: the file's key, when known (a shortcut's ``targetResourceKey``).
        """
        request = self._api("files").get(fileId=file_id, supportsAllDrives=True, fields=FILE_FIELDS)
        if resource_key:
            request.headers[RESOURCE_KEYS_HEADER] = f"{file_id}/{resource_key}"
        found = self._call(subject, request, f"files.get {file_id}")
        return None if isinstance(found, NotFound) else DriveFile.model_validate(found)

    def permissions(
        self, subject: str, file: DriveFile, *, domain_admin: bool = True
    ) -> list[DrivePermission] | None:
        """Every permission of ``file``, paged; None when the file is gone or unreadable.

        ``domain_admin``: ``subject`` is the delegated admin, which reads shared-drive files it
        is no member of through domain admin access; a user reads with their own access.
        """
        found: list[DrivePermission] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "fileId": file.id,
                "supportsAllDrives": True,
                "pageSize": PERMISSIONS_PAGE,
                "fields": PERMISSION_FIELDS,
            }
            if file.drive_id and self._admin_access and domain_admin:
                params["useDomainAdminAccess"] = True
            if token:
                params["pageToken"] = token
            request = self._with_key(self._api("permissions").list(**params), file)
            answer = self._call(subject, request, f"permissions.list {file.id}")
            if isinstance(answer, NotFound):
                return None
            found += [DrivePermission.model_validate(p) for p in answer.get("permissions", [])]
            token = answer.get("nextPageToken")
            if not token:
                return found

    def download(self, subject: str, file: DriveFile) -> bytes | None:
        request = self._api("files").get_media(fileId=file.id, supportsAllDrives=True)
        found = self._call(
            subject, self._with_key(request, file), f"files.get(alt=media) {file.id}"
        )
        return None if isinstance(found, NotFound) else bytes(found)

    def export(self, subject: str, file: DriveFile, mime_type: str) -> bytes | None:
        request = self._api("files").export(fileId=file.id, mimeType=mime_type)
        found = self._call(subject, self._with_key(request, file), f"files.export {file.id}")
        return None if isinstance(found, NotFound) else bytes(found)

    @staticmethod
    def _with_key(request: Any, file: DriveFile) -> Any:
        # Files shared by link since the 2021 security update need their resource key.
        if file.resource_key:
            request.headers[RESOURCE_KEYS_HEADER] = f"{file.id}/{file.resource_key}"
        return request
