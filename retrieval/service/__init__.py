"""The HTTP service (FastAPI): search and documents on behalf of users, for API-keyed services."""

from retrieval.service.app import SearchBackend, create_app
from retrieval.service.keys import ApiKeyRecord, ApiKeyStore, Capability, create_key, revoke_key
from retrieval.service.settings import ServiceSettings

__all__ = [
    "ApiKeyRecord",
    "ApiKeyStore",
    "Capability",
    "SearchBackend",
    "ServiceSettings",
    "create_app",
    "create_key",
    "revoke_key",
]
