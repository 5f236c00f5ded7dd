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
    Org membership comes from ``org`` (verified domains, members, guests) and from the members
    and guests that trusted sources report: an address the organisation does not know gets its
    own principals only, never the org-wide documents. A guest never gets the org principal.
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
        asserted = list(asserted_groups)
        if asserted and not trust_asserted:
            log.info("ignoring %d asserted group(s) from an untrusted caller", len(asserted))
        elif asserted:
            seeds |= {_asserted_group(name) for name in asserted}
        reached = self._expand(seeds)
        if self._is_member(address, reached):
            # Expanded too, so a group that contains the whole org admits its members.
            reached |= self._expand({self.org.principal})
        return frozenset(reached)

    def _is_member(self, address: str, reached: set[str]) -> bool:
        trusted = self.org.member_sources
        if address in self.org.guests or any(p.guests_group(s) in reached for s in trusted):
            return False
        return self.org.includes_email(address) or any(
            p.members_group(s) in reached for s in trusted
        )

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
