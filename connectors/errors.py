"""Connector failures, split by what the runner must do about them."""


class ConnectorError(Exception):
    """Base class of connector failures."""


class ConnectorConfigError(ConnectorError):
    """Credentials or configuration are invalid: nothing can run until an operator fixes them."""


class SourceUnavailableError(ConnectorError):
    """A systemic failure (source down, auth revoked, enumeration broken).

    The run stops without advancing its checkpoint or deleting anything.
    """


class RetryableError(ConnectorError):
    """A transient failure worth retrying (HTTP 429/503, timeouts).

    ``retry_after`` carries the server's Retry-After in seconds when it sent one; the retry policy
    waits at least that long before the next attempt.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionSourceUnreadableError(ConnectorError):
    """The source's group or identity data exists but cannot be read or understood.

    Unreadable permission data means nobody: a groups run that gets this replaces the source's
    memberships (or mappings) with none, and the run is recorded as failed with this message.
    """
