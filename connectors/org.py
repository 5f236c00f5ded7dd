"""Who is inside the tenant: the data behind ``org:<tenant>``.

``org:<tenant>`` in an ACL admits the organisation's members, never "anyone who asks". Membership
is data: addresses at the tenant's verified domains, plus people named as members, minus people
named as guests (an outside contractor given an address at the company's domain). Everyone else,
``stranger@gmail.com`` included, gets only their own user principal. Only ``org:<tenant>`` is the
tenant: ``org:partnerco`` in a sidecar is some other organisation, which no caller here belongs to.

Connectors use it to intersect layered ACLs exactly (a guest named below an org-only parent
does not pass the parent); retrieval uses it to decide whether a caller gets ``org:<tenant>``.

Sources that know who is inside (Confluence's licensed users, a Google Workspace directory,
Slack's full members and guests) report it as two groups of their own, ``members_group`` and
``guests_group``, synced by groups runs like any group. They count only for the sources the
deployment trusts for it (``member_sources``): a folder source's groups file must not be able
to make a stranger a member of the whole organisation.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from connectors.principals import normalise_email, org


def _domain(value: str) -> str:
    domain = normalise_email(f"x@{value}").split("@", 1)[1]
    if "." not in domain:
        raise ValueError(f"not a domain name: {value!r}")
    return domain


Domain = Annotated[str, AfterValidator(_domain)]
Email = Annotated[str, AfterValidator(normalise_email)]


class OrgPolicy(BaseModel):
    """The tenant and how to tell its members: one setting, used by connectors and retrieval."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str = Field(default="default", pattern=r"^\S+$")
    # Every address at exactly one of these domains is a member (subdomains are not).
    domains: frozenset[Domain] = frozenset()
    # Members outside the verified domains, and people at them who are not members.
    members: frozenset[Email] = frozenset()
    guests: frozenset[Email] = frozenset()
    # Sources whose reported members and guests count (see members_group / guests_group).
    member_sources: frozenset[str] = frozenset()

    @property
    def principal(self) -> str:
        return org(self.tenant)

    def includes_email(self, email: str) -> bool:
        address = normalise_email(email)
        if address in self.guests:
            return False
        return address in self.members or address.rsplit("@", 1)[1] in self.domains

    def includes(self, principal: str) -> bool:
        """Whether ``principal`` as such belongs to the organisation.

        Only a user can be known to be a member. A group or an account is not: who is in a group
        changes without the ACL being recomputed, and an account's owner is known only through
        identity mappings, so treating either as a member could admit an outsider.
        """
        if principal == self.principal:
            return True
        if principal.startswith("user:"):
            return self.includes_email(principal[len("user:") :])
        return False


ORG_MEMBERS_ID = "@org-members"
ORG_GUESTS_ID = "@org-guests"


def members_group(source_id: str) -> str:
    """The group in which ``source_id`` reports the people it knows to be inside the org."""
    return f"group:{source_id}:{ORG_MEMBERS_ID}"


def guests_group(source_id: str) -> str:
    """The group in which ``source_id`` reports guests: never members, whatever their domain."""
    return f"group:{source_id}:{ORG_GUESTS_ID}"
