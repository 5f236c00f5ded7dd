"""The console over HTTP (no browser): who gets in, cookies, CSRF, headers, escaping, colours."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from retrieval.service.keys import revoke_key
from tests.browser.conftest import Deployment

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def client(deployment: Deployment, base_url: str = "http://testserver") -> TestClient:
    # Not entered: the app's lifespan would shut its executor down at the end of each client,
    # and the module's tests share one app.
    return TestClient(deployment.opened.app, base_url=base_url, follow_redirects=False)


@pytest.fixture
def http(deployment: Deployment) -> TestClient:
    return client(deployment)


def csrf_of(page: str) -> str:
    match = _CSRF.search(page)
    assert match is not None, page
    return match.group(1)


def log_in(http: TestClient, key: str) -> str:
    """Logs in; returns the session's CSRF token from the first page."""
    form = http.get("/console/login")
    answer = http.post("/console/login", data={"csrf": csrf_of(form.text), "api_key": key})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/"
    return csrf_of(http.get("/console/").text)


def test_pages_need_an_admin_login(http: TestClient, deployment: Deployment) -> None:
    for path in ("/console/", "/console/runs", "/console/access"):
        answer = http.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/login"
    # A header key does not open the pages either: only the login form does.
    headers = {"Authorization": f"Bearer {deployment.admin_key}"}
    assert http.get("/console/", headers=headers).status_code == 303

    form = http.get("/console/login")
    refused = http.post(
        "/console/login", data={"csrf": csrf_of(form.text), "api_key": deployment.search_key}
    )
    assert refused.status_code == 403
    assert "not an admin key" in refused.text
    # Each form carries a fresh token (the refusal above re-rendered it).
    wrong = http.post(
        "/console/login", data={"csrf": csrf_of(refused.text), "api_key": "pmx_nope_nope"}
    )
    assert wrong.status_code == 401
    assert "pmx_console" not in http.cookies


def test_login_form_csrf_and_session_cookie(deployment: Deployment) -> None:
    http = client(deployment)
    http.get("/console/login")
    # A cross-site post carries no token of ours (and no cookie, with SameSite=Strict).
    forged = http.post("/console/login", data={"csrf": "forged", "api_key": deployment.admin_key})
    assert forged.status_code == 403
    form = http.get("/console/login")
    answer = http.post(
        "/console/login", data={"csrf": csrf_of(form.text), "api_key": deployment.admin_key}
    )
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("pmx_console=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the TLS case below
    assert deployment.admin_key not in cookie
    assert deployment.admin_key not in answer.headers["location"]

    tls = client(deployment, "https://testserver")
    form = tls.get("/console/login")
    assert "Secure" in form.headers["set-cookie"]
    answer = tls.post(
        "/console/login", data={"csrf": csrf_of(form.text), "api_key": deployment.admin_key}
    )
    assert "Secure" in answer.headers["set-cookie"]


def test_sources_runs_and_headers(http: TestClient, deployment: Deployment) -> None:
    log_in(http, deployment.admin_key)
    page = http.get("/console/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    assert ">docs</a>" in page.text
    assert '<span class="status-succeeded">succeeded</span>' in page.text
    assert '<span class="status-failed">failed</span>' in page.text
    assert "missing-folder" in page.text  # the broken source's last error

    runs = http.get("/console/runs", params={"source": "docs"})
    assert runs.status_code == 200
    assert runs.text.count("<tr><td>") == 2  # the groups run and the incremental run
    assert "broken" in runs.text  # in the source picker


def test_explain_needs_the_session_csrf_and_escapes(
    http: TestClient, deployment: Deployment
) -> None:
    token = log_in(http, deployment.admin_key)
    question = {"user": "hana@acme.com", "doc_id": "docs:hr/salaries.md"}
    assert http.post("/console/access", data=question).status_code == 403
    assert http.post("/console/access", data={**question, "csrf": "x"}).status_code == 403

    answer = http.post("/console/access", data={**question, "csrf": token})
    assert answer.status_code == 200
    assert "<strong>Visible</strong>" in answer.text
    assert "group:docs:hr" in answer.text
    # Audited in the service's audit file, as the admin API's explain is.
    audit_file = deployment.opened.audit_file
    assert audit_file is not None
    last = json.loads(audit_file.read_text().splitlines()[-1])
    assert (last["kind"], last["user"], last["subject"]) == (
        "access_explain",
        "console-admin",
        "hana@acme.com",
    )
    assert last["filters"] == {"doc_id": "docs:hr/salaries.md", "verdict": "visible"}

    omar = http.post(
        "/console/access",
        data={"user": "omar@acme.com", "doc_id": "docs:hr/salaries.md", "csrf": token},
    )
    assert "<strong>Not visible</strong>" in omar.text

    # A title is source text: shown, never run.
    runbook = http.post(
        "/console/access",
        data={"user": "omar@acme.com", "doc_id": "docs:runbook.md", "csrf": token},
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in runbook.text
    assert "<script>" not in runbook.text

    bad = http.post(
        "/console/access", data={"user": "not an address", "doc_id": "d", "csrf": token}
    )
    assert bad.status_code == 422
    assert 'role="alert"' in bad.text


def test_revoking_the_key_ends_the_session_and_logout_works(deployment: Deployment) -> None:
    from retrieval.service.keys import Capability, create_key

    key = create_key(deployment.keys_file, "short-lived", {Capability.ADMIN})[1]
    http = client(deployment)
    log_in(http, key)
    assert http.get("/console/runs").status_code == 200
    assert revoke_key(deployment.keys_file, "short-lived") == 1
    assert http.get("/console/runs").status_code == 303

    token = log_in(http, deployment.admin_key)
    assert http.post("/console/logout", data={"csrf": token}).status_code == 303
    assert http.get("/console/").status_code == 303


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_every_colour_pair_of_the_stylesheet_meets_wcag_aa(http: TestClient) -> None:
    css = http.get("/console/static/console.css").text
    pairs = []
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        colour = re.search(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{6})", body)
        background = re.search(r"background:\s*(#[0-9a-fA-F]{6})", body)
        # The stylesheet's rule: whoever sets a text colour sets its background too.
        assert (colour is None) == (background is None), selector
        if colour and background:
            pairs.append((selector.strip(), colour.group(1), background.group(1)))
    assert len(pairs) >= 10
    weak = [(s, f, b, round(contrast(f, b), 2)) for s, f, b in pairs if contrast(f, b) < 4.5]
    assert weak == []
