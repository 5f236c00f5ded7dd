"""The fictional organisation: people, nested groups and who may see which area."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.org import OrgPolicy

TENANT = "northwind"
DOMAIN = "northwind.example"
# Everyone at the demo's domain is inside the organisation.
ORG = OrgPolicy(tenant=TENANT, domains=frozenset({DOMAIN}))
SOURCE_ID = "northwind"


@dataclass(frozen=True)
class Person:
    handle: str
    name: str
    role: str

    @property
    def email(self) -> str:
        return f"{self.handle}@{DOMAIN}"

    @property
    def first(self) -> str:
        return self.name.split()[0]


PEOPLE = [
    Person("alice.chen", "Alice Chen", "Staff Engineer, Platform"),
    Person("bob.okafor", "Bob Okafor", "HR Business Partner"),
    Person("carla.mendes", "Carla Mendes", "VP Engineering"),
    Person("dan.kowalski", "Dan Kowalski", "Account Executive"),
    Person("erin.walsh", "Erin Walsh", "Security Lead"),
    Person("farid.haddad", "Farid Haddad", "Support Engineer"),
    Person("grace.lin", "Grace Lin", "Chief Executive Officer"),
    Person("hugo.berg", "Hugo Berg", "Backend Engineer, Payments"),
    Person("ines.duarte", "Ines Duarte", "Finance Manager"),
    Person("jonas.weber", "Jonas Weber", "Product Manager"),
    Person("kemi.adeyemi", "Kemi Adeyemi", "Site Reliability Engineer"),
    Person("liam.novak", "Liam Novak", "Search Engineer"),
]
BY_HANDLE = {person.handle: person for person in PEOPLE}


def email(handle: str) -> str:
    return BY_HANDLE[handle].email


# The two people whose searches the demo compares.
ALICE = BY_HANDLE["alice.chen"]
BOB = BY_HANDLE["bob.okafor"]

# Group -> direct members (people by handle, groups as ``group:<name>``). Nested on purpose:
# Alice reaches `security` only through `security-responders`, Carla reaches `engineering`
# through `eng-leads`.
GROUPS: dict[str, list[str]] = {
    "engineering": ["group:platform", "group:payments", "group:search", "group:eng-leads"],
    "platform": ["alice.chen", "kemi.adeyemi"],
    "payments": ["hugo.berg"],
    "search": ["liam.novak"],
    "eng-leads": ["carla.mendes"],
    "security": ["group:security-core", "group:security-responders"],
    "security-core": ["erin.walsh"],
    "security-responders": ["alice.chen", "kemi.adeyemi"],
    "hr": ["bob.okafor"],
    "people-leads": ["group:hr", "carla.mendes", "grace.lin"],
    "leadership": ["grace.lin", "carla.mendes", "ines.duarte"],
    "sales": ["dan.kowalski"],
    "support": ["farid.haddad"],
    "finance": ["ines.duarte"],
    "product": ["jonas.weber"],
}


@dataclass(frozen=True)
class Area:
    """A folder of the tree with its sidecar rule."""

    path: str
    allow: tuple[str, ...]
    doc_type: str
    inherit: bool = False


AREAS = [
    Area("wiki/company", ("org",), "page"),
    Area("wiki/engineering", ("group:engineering",), "page"),
    Area("wiki/engineering/runbooks", ("group:engineering", "group:support"), "runbook"),
    Area("tickets/ENG", ("group:engineering", "group:product", "group:support"), "ticket"),
    Area("tickets/SUP", ("group:support", "group:engineering"), "ticket"),
    Area("chat/general", ("org",), "chat"),
    Area("chat/engineering", ("group:engineering",), "chat"),
    Area("chat/incident-response", ("group:security",), "chat"),
    Area("shared/sales", ("group:sales", "group:leadership"), "file"),
    Area("shared/finance", ("group:finance", "group:leadership"), "file"),
    Area("hr/policies", ("group:hr", "group:people-leads"), "page"),
    Area("hr/compensation", ("group:hr",), "file"),
    Area("hr/reviews", ("group:hr", "group:people-leads"), "file"),
    Area("security/incidents", ("group:security",), "incident"),
    Area("security/assessments", ("group:security", "group:eng-leads"), "file"),
    Area("leadership", ("group:leadership",), "file"),
]
