"""Seed material for the generated documents: services, customers, topics and phrasing."""

from __future__ import annotations

SERVICES = {
    "billing-api": ("Payments", "invoices, subscriptions and card payments through Stripe"),
    "auth-service": ("Platform", "sign-in, SSO with SAML and OIDC, and API tokens"),
    "search-gateway": ("Search", "query parsing, ranking and the public search endpoint"),
    "ingest-pipeline": ("Platform", "the Kafka consumers that normalise customer events"),
    "notification-hub": ("Platform", "email, SMS and push notifications with per-tenant quotas"),
    "reporting-service": ("Search", "scheduled CSV and PDF reports for customer admins"),
    "ledger": ("Payments", "double-entry bookkeeping of every balance movement"),
    "web-app": ("Product", "the React single-page application customers log into"),
}
DATASTORES = ["PostgreSQL 15", "Redis", "Kafka", "S3", "OpenSearch", "ClickHouse"]
REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]
CUSTOMERS = [
    "Halvorsen Logistics", "Brightwater Health", "Kestrel Insurance", "Orchard Retail Group",
    "Meridian Freight", "Lumen Education", "Tidewell Energy", "Castor & Pollux Legal",
    "Quarry Hill Foods", "Silverline Travel", "Ashgrove Manufacturing", "Nimbus Media",
]  # fmt: skip
SYMPTOMS = [
    ("p99 latency above 2 seconds", "a missing index on the events table after the last migration"),
    (
        "intermittent 502 errors from the load balancer",
        "connection pool exhaustion under burst load",
    ),
    ("duplicate invoices for annual plans", "a retry without an idempotency key"),
    ("stale search results after an update", "the refresh interval being raised to 30 seconds"),
    (
        "password reset emails arriving late",
        "the notification queue backing up behind a bulk export",
    ),
    ("CSV export timing out for large tenants", "the report query scanning the whole partition"),
    (
        "memory growth until the pod is OOM-killed",
        "an unbounded in-process cache of tenant settings",
    ),
    ("SSO login loop for some SAML customers", "clock skew between the IdP and our token issuer"),
    (
        "webhook deliveries failing with TLS errors",
        "an expired intermediate certificate in the bundle",
    ),
    (
        "Kafka consumer lag above one million events",
        "a slow downstream call inside the consumer loop",
    ),
]
FEATURES = [
    "saved searches with email alerts", "bulk user import from CSV", "audit log export to S3",
    "per-project API rate limits", "dark mode for the dashboard", "SCIM user provisioning",
    "multi-currency invoices", "custom fields on tickets", "read replicas for reporting",
    "regional data residency in ap-southeast-2", "webhook retries with exponential backoff",
    "two-factor authentication with WebAuthn keys",
]  # fmt: skip
COMPANY_POLICIES = {
    "travel-policy": (
        "Travel policy",
        "Book flights through the travel portal at least fourteen days ahead. Economy class for "
        "flights under six hours; premium economy above that. Hotels up to 180 EUR a night in "
        "most cities, 250 EUR in London, New York and Zurich. Keep every receipt.",
    ),
    "expense-policy": (
        "Expense policy",
        "Submit expenses within thirty days in the finance tool. Meals while travelling are "
        "covered up to 60 EUR a day. Software subscriptions need approval from your manager "
        "and a ticket with IT so licences are tracked centrally.",
    ),
    "remote-work": (
        "Remote and hybrid work",
        "Everyone may work remotely up to three days a week. Core collaboration hours are "
        "10:00 to 15:00 in your team's main time zone. The home-office budget is 800 EUR once "
        "and 200 EUR a year afterwards.",
    ),
    "holidays": (
        "Holidays and time off",
        "Full-time employees have 28 days of paid leave plus public holidays of their country. "
        "Request leave in the HR portal; more than ten consecutive days need two weeks' notice. "
        "Unused days carry over until the end of March.",
    ),
    "equipment": (
        "Laptops and equipment",
        "New joiners choose a 14-inch MacBook Pro or a ThinkPad X1 Carbon. Laptops are replaced "
        "every three years. Lost or stolen devices must be reported to IT and security within "
        "one hour so they can be wiped remotely.",
    ),
    "code-of-conduct": (
        "Code of conduct",
        "Treat colleagues, customers and partners with respect. Harassment and discrimination "
        "are not tolerated. Concerns can be raised with your manager, with HR, or anonymously "
        "through the ethics hotline.",
    ),
    "information-security": (
        "Information security basics",
        "Never paste credentials, API keys or customer data into chat or tickets. Use the "
        "password manager for shared secrets. Report phishing with the button in your mail "
        "client; the security team answers within one working day.",
    ),
}
ONBOARDING_TOPICS = [
    "setting up your laptop", "getting access to GitHub and the CI", "your first deploy",
    "who to ask for what", "our release train", "how on-call works",
]  # fmt: skip
CHAT_SMALLTALK = [
    "Does anyone know if the office is open on Friday?",
    "Reminder: all-hands is at 16:00 today, questions go in the doc.",
    "The coffee machine on the third floor is fixed again.",
    "Welcome to the new joiners this week!",
    "Quarterly hackathon sign-ups are open until Wednesday.",
    "Lunch and learn tomorrow: how our search ranking works.",
    "The VPN will restart at 22:00 for maintenance.",
    "Please update your laptop; the OS patch fixes a Wi-Fi issue.",
]  # fmt: skip
