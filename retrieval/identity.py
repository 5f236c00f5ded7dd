"""Identity resolution: a caller's email becomes the set of principals a search is trimmed to."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from indexer import principals as p
from indexer.directory_store import DirectoryStore

log = logging.getLogger(__name__)


class IdentityError(ValueError):
    """The caller cannot be turned into principals (bad email, bad asserted group)."""


class IdentityResolver:
    """``user:<email>``, its mapped accounts, ``org:<tenant>`` for members of the organisation,
    and every group reaching any of those.

    Groups come from the synced directory only. Groups asserted by a client are honoured only
    when the calling service is trusted to assert them, and are expanded like synced ones.
    Org membership comes from ``org`` (verified domains, members, guests): an address the
    organisation does not know gets its own principals only, never the org-wide documents.
    """

    def __init__(self, directory: DirectoryStore, org: p.OrgPolicy) -> None:
        self.directory = directory
        self.org = org

    def resolve(
        self,
        email: str,
        *,
        asserted_groups: Iterable[str] = (),
        trust_asserted: bool = False,
    ) -> frozenset[str]:
        try:
            address = p.normalise_email(email)
        except p.InvalidPrincipalError as exc:
            raise IdentityError(f"cannot resolve caller: {exc}") from exc
        seeds = {p.user(address)}
        seeds |= {p.validate_principal(a) for a in self.directory.accounts_of(address)}
        if self.org.includes_email(address):
            # Before expansion, so a group that contains the whole org admits its members.
            seeds.add(self.org.principal)
        asserted = list(asserted_groups)
        if asserted and not trust_asserted:
            log.info("ignoring %d asserted group(s) from an untrusted caller", len(asserted))
        elif asserted:
            seeds |= {_asserted_group(name) for name in asserted}
        return frozenset(self._expand(seeds))

    def _expand(self, seeds: set[str]) -> set[str]:
        """Breadth-first up the nesting; ``seen`` keeps cyclic nesting finite."""
        seen = set(seeds)
        frontier = set(seeds)
        while frontier:
            parents = self.directory.groups_containing(frontier) - seen
            seen |= parents
            frontier = parents
        return seen


def _asserted_group(name: str) -> str:
    try:
        principal = p.validate_principal(name)
    except p.InvalidPrincipalError as exc:
        raise IdentityError(f"invalid asserted group: {exc}") from exc
    # Asserting a user, account or org principal would let a service impersonate anyone.
    if p.principal_kind(principal) != "group":
        raise IdentityError(f"asserted groups must be group principals, got {name!r}")
    return principal
