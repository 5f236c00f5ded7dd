"""The principal vocabulary the index's ACLs are written in, as retrieval sees it.

Retrieval never imports ``connectors``; it reaches the shared naming rules through the indexer,
whose records carry the ACLs.
"""

from connectors.org import OrgPolicy, guests_group, members_group
from connectors.principals import (
    InvalidPrincipalError,
    normalise_email,
    org,
    principal_kind,
    user,
    validate_principal,
)

__all__ = [
    "InvalidPrincipalError",
    "OrgPolicy",
    "guests_group",
    "members_group",
    "normalise_email",
    "org",
    "principal_kind",
    "user",
    "validate_principal",
]
