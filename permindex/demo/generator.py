"""A seeded generator of the demo organisation's documents.

Same seed, same size: byte-for-byte the same tree. A handful of *anchor* documents carry the
stories the demo tells (salary bands only HR may read, a security incident, a reorganisation
plan); the rest is realistic filler so that searches have something to rank against.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from permindex.demo import vocabulary as v
from permindex.demo.org import PEOPLE, Person

Size = Literal["small", "full"]

# Filler counts per size. "small" keeps the smoke test under a minute on two cores.
COUNTS: dict[Size, dict[str, int]] = {
    "full": {"adr": 12, "eng": 70, "sup": 50, "general": 25, "engchat": 30, "irchat": 10,
             "accounts": 12, "finance": 10, "reviews": 16, "incidents": 7, "assessments": 6,
             "leadership": 9},
    "small": {"adr": 2, "eng": 8, "sup": 6, "general": 4, "engchat": 4, "irchat": 2,
              "accounts": 3, "finance": 2, "reviews": 3, "incidents": 2, "assessments": 1,
              "leadership": 2},
}  # fmt: skip

STRENGTHS = ["ownership of incidents", "clear writing", "mentoring", "customer empathy"]
GROWTH = ["delegation", "estimating work", "saying no", "public speaking"]
FINDINGS = ["session fixation", "IDOR on exports", "weak TLS ciphers"]

EPOCH = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

# Anchor paths the demo flow refers to.
SALARY_BANDS = "hr/compensation/salary-bands-2025.md"
COMP_PHILOSOPHY = "wiki/company/compensation-philosophy.md"
KEY_INCIDENT = "security/incidents/2025-03-11-leaked-stripe-key.md"
ROTATION_RUNBOOK = "wiki/engineering/runbooks/secret-rotation.md"
REORG_PLAN = "leadership/2025-platform-reorganisation.md"
ALL_HANDS = "chat/general/2025-04-02-all-hands-notes.md"


@dataclass(frozen=True)
class DemoFile:
    path: str
    text: str
    modified: datetime
    # Per-file sidecar rule: replaces the folder's ACL for this one file.
    allow: tuple[str, ...] | None = None


@dataclass
class _Gen:
    rng: random.Random
    files: list[DemoFile] = field(default_factory=list)

    def person(self, exclude: Person | None = None) -> Person:
        choices = [p for p in PEOPLE if p != exclude]
        return self.rng.choice(choices)

    def when(self, max_days: int = 300) -> datetime:
        return EPOCH + timedelta(days=self.rng.randrange(max_days), minutes=self.rng.randrange(600))

    def add(self, path: str, text: str, modified: datetime | None = None,
            allow: tuple[str, ...] | None = None) -> None:  # fmt: skip
        self.files.append(DemoFile(path, text.strip() + "\n", modified or self.when(), allow))


def generate(size: Size = "full", seed: int = 7) -> list[DemoFile]:
    gen = _Gen(random.Random(seed))
    counts = COUNTS[size]
    _anchors(gen)
    _company_wiki(gen)
    _engineering_wiki(gen, counts["adr"])
    _tickets(gen, counts["eng"], counts["sup"])
    _chat(gen, counts["general"], counts["engchat"], counts["irchat"])
    _shared(gen, counts["accounts"], counts["finance"])
    _hr(gen, counts["reviews"])
    _security(gen, counts["incidents"], counts["assessments"])
    _leadership(gen, counts["leadership"])
    paths = [f.path for f in gen.files]
    if len(paths) != len(set(paths)):
        raise RuntimeError("demo generator produced a duplicate path")
    return sorted(gen.files, key=lambda f: f.path)


def _anchors(gen: _Gen) -> None:
    gen.add(
        SALARY_BANDS,
        """
# Salary bands 2025 — Engineering (CONFIDENTIAL)

Owner: Bob Okafor (HR). Approved by the compensation committee on 2025-01-20.
These bands are base salary in EUR for the Berlin and Lisbon hubs; the remote
differential is applied on top as described in the compensation philosophy.

| Level | Title | Minimum | Midpoint | Maximum |
|---|---|---|---|---|
| E2 | Engineer | 52,000 | 60,000 | 68,000 |
| E3 | Senior Engineer | 70,000 | 81,000 | 92,000 |
| E4 | Staff Engineer | 93,000 | 106,000 | 119,000 |
| E5 | Principal Engineer | 118,000 | 133,000 | 148,000 |

## Notes for managers
Senior engineers hired above the midpoint need a written justification. The 2025
merit budget is 3.5% of base salary, plus a 1% pool for equity adjustments where
an engineer sits below the band minimum after the recalibration.
""",
        EPOCH + timedelta(days=14),
    )
    gen.add(
        COMP_PHILOSOPHY,
        """
# How we pay: our compensation philosophy

We pay at the 65th percentile of the market for each level, using salary surveys
for European technology companies. Every role has a salary band per level; the bands
themselves are confidential and held by HR, but the principles are open to everyone.

- Levels, not negotiation skills, decide pay: two senior engineers at the same level
  and performance are paid within the same band.
- Bands are reviewed every January; merit increases are decided in the March cycle.
- Remote employees outside our hubs receive a location differential of up to 10%.
- Ask your manager or your HR business partner where you sit in your band.
""",
        EPOCH + timedelta(days=10),
    )
    gen.add(
        KEY_INCIDENT,
        """
# Incident SEC-2025-007: Stripe API key leaked in a public repository

Severity: SEV-1. Incident commander: Erin Walsh. Responders: Alice Chen, Kemi Adeyemi.
Status: resolved 2025-03-11 18:40 UTC.

## Summary
A restricted Stripe secret key for billing-api was committed to a public GitHub
repository used for an SDK example. GitHub secret scanning notified Stripe, which
notified us 19 minutes later. The key was rotated 41 minutes after the push.

## Impact
Stripe logs show two listing calls from an unknown IP in a cloud provider range and
no charges, refunds or payouts. No customer card data is reachable with that key.

## Root cause
The example repository was created from an internal template that still contained
a `.env` file. Pre-commit secret scanning was not enabled for repositories created
outside the main organisation.

## Follow-up actions
1. Enforce secret scanning and push protection on every repository (owner: Erin).
2. Move billing-api secrets to short-lived credentials from the vault (owner: Hugo).
3. Update the secret rotation runbook with the Stripe steps (owner: Alice).
""",
        EPOCH + timedelta(days=64),
    )
    gen.add(
        ROTATION_RUNBOOK,
        """
# Runbook: rotating a leaked secret or API key

Use this runbook when an API key, token or password may have been exposed — for
example pushed to a repository, pasted in chat or attached to a ticket.

1. Page the security on-call in #incident-response; do not discuss the key in public channels.
2. Revoke the key at the provider (Stripe dashboard, AWS IAM, GitHub) before anything else.
3. Create a new key in the vault and roll the services that use it: `deployctl restart billing-api`.
4. Search the provider's audit log for calls made with the old key since it was exposed.
5. Open an incident ticket and record the timeline for the post-incident review.
""",
        EPOCH + timedelta(days=66),
    )
    gen.add(
        REORG_PLAN,
        """
# Platform team reorganisation — proposal for Q3 2025 (leadership only)

Author: Carla Mendes. Reviewed with Grace Lin and Bob Okafor.

The platform team has grown to eleven engineers with three unrelated missions. We
propose to split it into two teams from 1 July: *Developer Platform* (CI, deploy
tooling, internal libraries) led by Alice Chen, and *Reliability* (observability,
on-call, capacity) led by Kemi Adeyemi. Two open headcount move from platform to
payments. Communication plan: managers first on 16 June, the whole company at the
all-hands on 23 June. Until then this plan must not be shared outside leadership and HR.
""",
        EPOCH + timedelta(days=120),
        allow=("group:leadership", "group:hr"),
    )
    gen.add(
        ALL_HANDS,
        """
# #general: all-hands notes, 2 April 2025

grace.lin: Thanks everyone for joining. Q1 revenue came in 6% above plan.
grace.lin: We are hiring in payments and search; referrals get a 2,000 EUR bonus.
carla.mendes: Engineering priorities for Q2: SSO for every plan, faster reports, fewer pages.
jonas.weber: The new dashboard ships to all customers on 15 April.
grace.lin: We will share more about how teams are organised later this year.
""",
        EPOCH + timedelta(days=86),
    )


def _company_wiki(gen: _Gen) -> None:
    for slug, (title, body) in v.COMPANY_POLICIES.items():
        owner = gen.rng.choice(["Bob Okafor", "Ines Duarte", "Erin Walsh", "Grace Lin"])
        gen.add(f"wiki/company/{slug}.md", f"# {title}\n\nOwner: {owner}.\n\n{body}\n")
    for topic in v.ONBOARDING_TOPICS:
        slug = topic.replace(" ", "-").replace("/", "-")
        buddy = gen.person()
        gen.add(
            f"wiki/company/onboarding/{slug}.md",
            f"""
# Onboarding: {topic}

This page is part of the first-week checklist. Your onboarding buddy (for many
new joiners that is {buddy.name}) can help with anything that is unclear.
Most people finish this step on day {gen.rng.randint(1, 5)}. If something on this page is
out of date, fix it or tell #general.
""",
        )


def _engineering_wiki(gen: _Gen, adrs: int) -> None:
    for service, (team, purpose) in v.SERVICES.items():
        stores = gen.rng.sample(v.DATASTORES, 2)
        region = gen.rng.choice(v.REGIONS)
        slo = gen.rng.choice(["99.9%", "99.95%", "99.5%"])
        gen.add(
            f"wiki/engineering/services/{service}.md",
            f"""
# {service}

Owning team: {team}. Purpose: {purpose}.

## Architecture
{service} runs on Kubernetes in {region} with three replicas behind the internal
load balancer. State lives in {stores[0]}; {stores[1]} is used for caching and queues.

## SLOs
Availability {slo} per month; p95 latency under {gen.rng.choice([150, 200, 300, 500])} ms.
Alerts page the {team.lower()} on-call through PagerDuty.
""",
        )
        symptom, cause = gen.rng.choice(v.SYMPTOMS)
        gen.add(
            f"wiki/engineering/runbooks/{service}-alerts.md",
            f"""
# Runbook: {service} alerts

## {symptom.capitalize()}
Last time this happened the cause was {cause}. Check the {service} dashboard first,
then the recent deploys with `deployctl history {service}`. Roll back if the alert
started within 30 minutes of a deploy.

## Escalation
Escalate to the {team} team lead after 20 minutes without mitigation.
""",
        )
    topics = ["moving session storage to Redis", "adopting OpenTelemetry for tracing",
              "splitting the monolith's billing module", "using Kafka for domain events",
              "PostgreSQL row-level security for tenants", "feature flags with OpenFeature",
              "one repository per service", "gRPC between internal services",
              "blue-green deploys for the web app", "retiring the legacy reporting cron",
              "OpenSearch for full-text search", "idempotency keys on every write API"]  # fmt: skip
    for number in range(1, adrs + 1):
        topic = topics[(number - 1) % len(topics)]
        author = gen.person()
        status = gen.rng.choice(["Accepted", "Accepted", "Superseded", "Proposed"])
        gen.add(
            f"wiki/engineering/adr/adr-{number:03d}.md",
            f"""
# ADR-{number:03d}: {topic.capitalize()}

Status: {status}. Author: {author.name}.

## Context
We keep running into {gen.rng.choice(v.SYMPTOMS)[0]} and the current design makes it hard to fix.

## Decision
We will go ahead with {topic}, starting with {gen.rng.choice(list(v.SERVICES))}.

## Consequences
Teams need to budget about {gen.rng.randint(2, 8)} weeks of migration work.
""",
        )


def _tickets(gen: _Gen, eng: int, sup: int) -> None:
    for number in range(1, eng + 1):
        service = gen.rng.choice(list(v.SERVICES))
        reporter, assignee = gen.person(), gen.person()
        if gen.rng.random() < 0.6:
            symptom, cause = gen.rng.choice(v.SYMPTOMS)
            body = f"""
# ENG-{1000 + number}: {service}: {symptom}

Type: Bug. Priority: {gen.rng.choice(["P1", "P2", "P2", "P3"])}. Reporter: {reporter.name}.
Assignee: {assignee.name}. Component: {service}.

## What happens
Since {gen.when().date().isoformat()} we see {symptom} on {service}, mostly for
{gen.rng.choice(v.CUSTOMERS)}.

## Investigation
{assignee.first}: looks like {cause}. Fix is in review.
{reporter.first}: confirmed on staging, will verify in production after the release.
"""
        else:
            feature = gen.rng.choice(v.FEATURES)
            body = f"""
# ENG-{1000 + number}: {feature.capitalize()}

Type: Story. Priority: {gen.rng.choice(["P2", "P3"])}. Reporter: {reporter.name}.
Assignee: {assignee.name}. Component: {service}.

As a customer admin I want {feature} so that my team saves time. Requested by
{gen.rng.choice(v.CUSTOMERS)} and {gen.rng.choice(v.CUSTOMERS)}.

Acceptance criteria: documented in the API reference, behind a feature flag,
load-tested at twice the current peak.
"""
        gen.add(f"tickets/ENG/ENG-{1000 + number}.md", body)
    for number in range(1, sup + 1):
        customer = gen.rng.choice(v.CUSTOMERS)
        symptom, _ = gen.rng.choice(v.SYMPTOMS)
        agent = gen.rng.choice(["Farid Haddad", "Farid Haddad", "Kemi Adeyemi"])
        gen.add(
            f"tickets/SUP/SUP-{4200 + number}.md",
            f"""
# SUP-{4200 + number}: {customer} reports {symptom}

Customer: {customer}. Plan: {gen.rng.choice(["Business", "Enterprise", "Starter"])}.
Agent: {agent}.

The customer's admin wrote in on {gen.when().date().isoformat()}: "Since this morning we
see {symptom}. Our team cannot finish their work." Linked engineering ticket:
ENG-{1000 + gen.rng.randint(1, max(eng, 1))}. Workaround shared; waiting for the fix.
""",
        )


def _chat(gen: _Gen, general: int, engineering: int, incident: int) -> None:
    for day in range(general):
        when = EPOCH + timedelta(days=day * 9)
        lines = [f"{gen.person().handle}: {gen.rng.choice(v.CHAT_SMALLTALK)}" for _ in range(4)]
        heading = f"# #general: {when.date().isoformat()}"
        gen.add(f"chat/general/{when.date().isoformat()}.md", "\n\n".join([heading, *lines]), when)
    for day in range(engineering):
        when = EPOCH + timedelta(days=day * 7 + 2)
        service = gen.rng.choice(list(v.SERVICES))
        symptom, cause = gen.rng.choice(v.SYMPTOMS)
        a, b = gen.person(), gen.person()
        gen.add(
            f"chat/engineering/{when.date().isoformat()}-{service}.md",
            f"""
# #engineering: {symptom} on {service}? ({when.date().isoformat()})

{a.handle}: anyone else seeing {symptom} on {service}?
{b.handle}: yes, started after the {gen.rng.randint(9, 17)}:00 deploy
{a.handle}: I think it is {cause}
{b.handle}: rolling back now, will open a ticket
""",
            when,
        )
    for number in range(incident):
        when = EPOCH + timedelta(days=number * 23 + 5)
        symptom, _ = gen.rng.choice(v.SYMPTOMS)
        gen.add(
            f"chat/incident-response/{when.date().isoformat()}-page.md",
            f"""
# #incident-response: admin console login attempts ({when.date().isoformat()})

erin.walsh: paging responders: suspicious login attempts on the admin console
alice.chen: looking. Rate limit is holding, {gen.rng.randint(3, 40)} IPs blocked so far
kemi.adeyemi: unrelated but {symptom} on {gen.rng.choice(list(v.SERVICES))} too
erin.walsh: ok, write it up in the incident doc, we review tomorrow
""",
            when,
        )


def _shared(gen: _Gen, accounts: int, finance: int) -> None:
    for customer in v.CUSTOMERS[:accounts]:
        slug = customer.lower().replace(" & ", "-").replace(" ", "-")
        arr = gen.rng.randrange(40, 900) * 1000
        gen.add(
            f"shared/sales/accounts/{slug}.md",
            f"""
# Account plan: {customer}

Owner: Dan Kowalski. Annual recurring revenue: {arr:,} EUR. Renewal: {gen.when().date()}.

Champion: head of operations. Risks: {gen.rng.choice(v.SYMPTOMS)[0]} hurt them last quarter.
Expansion: {gen.rng.choice(v.FEATURES)} would unlock another {gen.rng.randint(50, 400)} seats.
""",
        )
    gen.add(
        "shared/sales/pricing-2025.html",
        """
<html><body><h1>Price list 2025</h1>
<p>Starter: 12 EUR per seat and month. Business: 29 EUR. Enterprise: from 49 EUR with SSO,
audit log export and a 99.95% uptime commitment.</p>
<p>Discounts above 20% need approval from Grace Lin.</p></body></html>
""",
    )
    for quarter in range(finance):
        year, q = 2025 + quarter // 4, quarter % 4 + 1
        gen.add(
            f"shared/finance/budget-{year}-q{q}.md",
            f"""
# Budget {year} Q{q}

Cloud spend forecast: {gen.rng.randint(180, 260)}k EUR (AWS {gen.rng.randint(70, 85)}%).
Headcount cost: {gen.rng.randint(2100, 2600)}k EUR. Travel: {gen.rng.randint(40, 90)}k EUR.
Variance to plan: {gen.rng.choice(["-3%", "+1%", "+4%", "-1%"])}. Owner: Ines Duarte.
""",
        )


def _hr(gen: _Gen, reviews: int) -> None:
    gen.add(
        "hr/policies/performance-review-process.md",
        """
# Performance review process

Reviews happen twice a year, in March and September. Managers write a summary,
collect peer feedback from three colleagues and propose a rating from 1 to 5.
Calibration sessions per department make ratings comparable before they are shared.
""",
    )
    gen.add(
        "hr/policies/parental-leave.md",
        """
# Parental leave

Every parent receives 16 weeks of fully paid leave, to be taken within the first
year. Tell HR at least eight weeks before the leave starts.
""",
    )
    gen.add(
        "hr/compensation/merit-cycle-2025.md",
        """
# Merit cycle 2025 (HR only)

Budget 3.5% of payroll. Timeline: manager proposals by 14 March, calibration on
21 March, letters on 1 April. Use the salary bands 2025 sheet for every proposal.
""",
        EPOCH + timedelta(days=30),
    )
    for number in range(reviews):
        person = PEOPLE[number % len(PEOPLE)]
        rating = gen.rng.choice([3, 3, 4, 4, 5, 2])
        half = 1 + (number // len(PEOPLE)) % 2
        gen.add(
            f"hr/reviews/{person.handle}-2025-h{half}.md",
            f"""
# Performance review H{half} 2025: {person.name} ({person.role})

Rating: {rating}/5. Reviewer: {gen.person(exclude=person).name}.
Strengths: {gen.rng.choice(STRENGTHS)}.
Growth areas: {gen.rng.choice(GROWTH)}.
""",
        )


def _security(gen: _Gen, incidents: int, assessments: int) -> None:
    kinds = ["phishing campaign against finance", "credential stuffing on the login page",
             "exposed S3 bucket with test data", "malicious npm dependency in the web-app build",
             "stolen laptop of a contractor", "suspicious OAuth app in Google Workspace",
             "misconfigured CORS on reporting-service"]  # fmt: skip
    for number in range(incidents):
        kind = kinds[number % len(kinds)]
        when = EPOCH + timedelta(days=number * 31 + 3)
        gen.add(
            f"security/incidents/{when.date().isoformat()}-{kind.split()[0]}.md",
            f"""
# Incident SEC-2025-{number + 1:03d}: {kind.capitalize()}

Severity: {gen.rng.choice(["SEV-2", "SEV-3"])}. Incident commander: Erin Walsh.
Detected by {gen.rng.choice(["our SIEM", "a customer report", "an employee"])}; contained
within {gen.rng.randint(1, 9)} hours. No customer data was accessed.
""",
            when,
        )
    for number in range(assessments):
        service = list(v.SERVICES)[number % len(v.SERVICES)]
        gen.add(
            f"security/assessments/pentest-{service}.md",
            f"""
# Penetration test: {service}

Vendor: Redcliff Security. Findings: {gen.rng.randint(0, 2)} high, {gen.rng.randint(1, 6)} medium.
The highest finding concerns {gen.rng.choice(FINDINGS)}.
""",
        )


def _leadership(gen: _Gen, count: int) -> None:
    themes = ["board meeting preparation", "fundraising timeline", "pricing change for 2026",
              "office lease renewal in Berlin", "acquisition offer from a competitor",
              "hiring freeze scenarios", "annual strategy offsite", "key customer escalations",
              "equity refresh for long-tenured staff"]  # fmt: skip
    for number in range(count):
        theme = themes[number % len(themes)]
        when = EPOCH + timedelta(days=number * 28 + 12)
        gen.add(
            f"leadership/{when.date().isoformat()}-{theme.split()[0]}.md",
            f"""
# Leadership meeting {when.date().isoformat()}: {theme}

Present: Grace Lin, Carla Mendes, Ines Duarte.
Discussion: {theme}; runway is {gen.rng.randint(24, 40)} months at the current burn.
Decision: revisit in {gen.rng.choice(["two weeks", "a month", "next quarter"])}.
""",
            when,
        )
