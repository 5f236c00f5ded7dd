"""Short principal spellings accepted in the folder connector's YAML files.

The YAML is written by people, so a few abbreviations are accepted and expanded to the typed
principals of ``connectors.principals``; the index only ever sees the full forms.

- ``alice@example.com``        -> ``user:alice@example.com`` (normalised)
- ``org``                      -> ``org:<tenant>``
- ``group:eng``                -> ``group:<source>:eng`` (one colon: a group of this source)
- ``account:u42``              -> ``account:<source>:u42``
- anything already fully typed (``user:``, ``group:s:id``, ``org:t``, ``account:s:id``) is kept.
"""

from __future__ import annotations

from connectors.principals import (
    InvalidPrincipalError,
    account,
    group,
    org,
    user,
    validate_principal,
)


def expand_principal(raw: str, *, source: str, tenant: str) -> str:
    if not isinstance(raw, str):
        raise InvalidPrincipalError(f"principal must be a string, got {raw!r}")
    value = raw.strip()
    if value == "org":
        return org(tenant)
    kind, sep, rest = value.partition(":")
    if not sep:
        if "@" in value:
            return user(value)
        raise InvalidPrincipalError(
            f"invalid principal {raw!r}: expected an email, 'org', group:<id>, account:<id> "
            "or a fully typed principal"
        )
    if kind == "group" and rest and ":" not in rest:
        return group(source, rest)
    if kind == "account" and rest and ":" not in rest:
        return account(source, rest)
    return validate_principal(value)


def expand_group_name(raw: str, *, source: str) -> str:
    """A key of the groups file: ``eng`` or ``group:eng`` names the group ``group:<source>:eng``."""
    value = raw.strip()
    if value.startswith("group:"):
        value = value[len("group:") :]
    if not value or ":" in value:
        raise InvalidPrincipalError(
            f"invalid group name {raw!r}: the groups file defines groups of this source only"
        )
    return group(source, value)


def expand_account_name(raw: str, *, source: str) -> str:
    """A key of the identities map: ``u42`` or ``account:u42`` names ``account:<source>:u42``."""
    value = raw.strip()
    if value.startswith("account:"):
        value = value[len("account:") :]
    if not value or ":" in value:
        raise InvalidPrincipalError(
            f"invalid account id {raw!r}: the identities map defines accounts of this source only"
        )
    return account(source, value)
