"""Telling a misnamed control file (``.permindex-acl.yml``, ``Permindex-ACL.yaml``...) from others.

A control file read only under its exact name is silently ignored under any other, and an ignored
ACL file leaves the wider parent ACL in force. So names that look like an attempt at a control
file are reported and fail closed instead. The rule (``near_miss``), on a *key* of each name
(NFKC-normalised, case-folded, letters and digits only, so case, punctuation, dots, spaces,
look-alike or invisible characters do not matter):

1. the name's key contains the key of the canonical name's stem (for ``.permindex-acl.yaml``
   the stem is ``permindex-acl``, key ``permindexacl``): catches case and punctuation changes,
   a missing or extra dot, another extension, backup suffixes (``.bak``, ``~``, ``.orig``);
2. or the name's key is within two edits (insert, delete, replace, swap two neighbours) of the
   canonical name's key (``permindexaclyaml``): catches typos such as ``.permindx-acl.yaml``.

The exact canonical name is never a near miss.
"""

from __future__ import annotations

import unicodedata

MAX_EDITS = 2


def near_miss(name: str, canonical: str) -> bool:
    """Whether ``name`` (one path component) looks like a misspelling of ``canonical``."""
    if name == canonical:
        return False
    key = _key(name)
    if _key(_stem(canonical)) in key:
        return True
    return _edit_distance(key, _key(canonical), MAX_EDITS) <= MAX_EDITS


def _key(name: str) -> str:
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(char for char in folded if char.isalnum())


def _stem(canonical: str) -> str:
    stem = canonical.lstrip(".")
    return stem.rsplit(".", 1)[0] if "." in stem else stem


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance, or ``limit + 1`` as soon as it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[len(b)]
