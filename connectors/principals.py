"""Typed principal names: the vocabulary of every ACL.

A principal is a plain string with a kind prefix so that ACLs stay cheap to store and to
filter on (a keyword field in OpenSearch, a row in SQLite) while remaining unambiguous:

- ``user:<normalised email>``
- ``group:<source>:<group id>``
- ``org:<tenant>`` -- everyone in the organisation
- ``account:<source>:<account id>`` -- a source-specific identity, mapped to an email later
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_SOURCE_RE = r"[a-z0-9][a-z0-9_.-]*"
_PRINCIPAL_RE = re.compile(
    rf"^(?:user:[^\s@:]+@[^\s@:]+"
    rf"|group:{_SOURCE_RE}:\S.*"
    rf"|org:\S+"
    rf"|account:{_SOURCE_RE}:\S.*)$"
)


class InvalidPrincipalError(ValueError):
    """A principal string that does not follow the typed naming scheme."""


# Control, format (zero-width, bidi), surrogate, private-use and unassigned code points, and line
# or paragraph separators: invisible or ambiguous in an address, so never part of one.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def normalise_email(email: str) -> str:
    """The one canonical form of an address, used at index time and at query time alike.

    NFKC then casefold, after refusing what only looks like an address: invisible characters,
    and compatibility characters (the Kelvin sign, fullwidth letters, ligatures) that NFKC would
    fold into someone else's address: "kim" spelt with the Kelvin sign (U+212A) is refused,
    not taken for kim.
    """
    if not isinstance(email, str):
        raise InvalidPrincipalError(f"not an email address: {email!r}")
    address = email.strip(" \t")
    for ch in address:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES or ch.isspace():
            raise InvalidPrincipalError(f"not an email address: {email!r} contains U+{ord(ch):04X}")
    if unicodedata.normalize("NFKC", address) != address:
        raise InvalidPrincipalError(
            f"not an email address: {email!r} contains compatibility characters"
        )
    address = address.casefold()
    if address.count("@") != 1 or address.startswith("@") or address.endswith("@"):
        raise InvalidPrincipalError(f"not an email address: {email!r}")
    if ":" in address:
        raise InvalidPrincipalError(f"not an email address: {email!r}")
    return address


def user(email: str) -> str:
    return f"user:{normalise_email(email)}"


def group(source: str, group_id: str) -> str:
    return validate_principal(f"group:{source}:{group_id}")


def org(tenant: str) -> str:
    return validate_principal(f"org:{tenant}")


def account(source: str, account_id: str) -> str:
    return validate_principal(f"account:{source}:{account_id}")


def validate_principal(value: str) -> str:
    """Return the canonical form of ``value`` or raise :class:`InvalidPrincipalError`."""
    if not isinstance(value, str):
        raise InvalidPrincipalError(f"principal must be a string, got {type(value).__name__}")
    if value.startswith("user:"):
        return user(value[len("user:") :])
    if value != value.strip() or not _PRINCIPAL_RE.match(value):
        raise InvalidPrincipalError(
            f"invalid principal {value!r}: expected user:<email>, group:<source>:<id>, "
            "org:<tenant> or account:<source>:<id>"
        )
    return value


def principal_kind(value: str) -> str:
    return value.split(":", 1)[0]


Principal = Annotated[str, AfterValidator(validate_principal)]
