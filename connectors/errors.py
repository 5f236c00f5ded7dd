"""Connector failures, split by what the runner must do about them."""


class ConnectorError(Exception):
    """Base class of connector failures."""


class ConnectorConfigError(ConnectorError):
    """Credentials or configuration are invalid: nothing can run until an operator fixes them."""


class SourceUnavailableError(ConnectorError):
    """A systemic failure (source down, auth revoked, enumeration broken).

    The run stops without advancing its checkpoint or deleting anything.
    """
