"""Identity resolution: a caller's email becomes the set of principals a search is trimmed to."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable

from indexer import principals as p
from indexer.directory_store import DirectoryStore, GenerationalDirectory

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

    When the directory reports a generation (OpenSearch: one request, against the several scans
    a resolution takes), resolutions are cached per caller and served only while the generation
    they were made under is still current: any committed replacement (a revoked membership, a
    remapped account) makes every cached entry stale at the next query, in every process.
    """

    def __init__(
        self, directory: DirectoryStore, org: p.OrgPolicy, *, cache_size: int = 4096
    ) -> None:
        self.directory = directory
        self.org = org
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, tuple[str, ...]], tuple[str, frozenset[str]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

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
        asserted = list(asserted_groups)
        if asserted and not trust_asserted:
            log.info("ignoring %d asserted group(s) from an untrusted caller", len(asserted))
            asserted = []
        groups = tuple(sorted({_asserted_group(name) for name in asserted}))
        key = (address, groups)
        # Read before resolving: a replacement committed meanwhile changes the next token, so an
        # entry is never served past a change it might have missed.
        generation = (
            self.directory.generation()
            if self._cache_size > 0 and isinstance(self.directory, GenerationalDirectory)
            else None
        )
        if generation is not None:
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None and cached[0] == generation:
                    self._cache.move_to_end(key)
                    return cached[1]
        principals = self._resolve(address, groups)
        if generation is not None:
            with self._lock:
                self._cache[key] = (generation, principals)
                self._cache.move_to_end(key)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return principals

    def _resolve(self, address: str, asserted: tuple[str, ...]) -> frozenset[str]:
        seeds = {p.user(address), *asserted}
        seeds |= {p.validate_principal(a) for a in self.directory.accounts_of(address)}
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
