"""The emulator base: spec validation, the real slack-sdk against the Slack emulator, faults."""

from __future__ import annotations

import urllib.error

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from connectors.errors import RetryableError
from connectors.gateway.http_errors import error_for_status, error_for_transport
from tests.emulators.base import (
    VIOLATION_HEADER,
    ApiRequest,
    ApiResponse,
    Hang,
    RateLimited,
    ServerError,
    Slow,
    Truncated,
)
from tests.emulators.slack import SlackEmulator
from tests.emulators.spec import OpenAPIDocument, SpecRequest, SpecViolation

AUTH_TEST_OK = {
    "ok": True,
    "url": "https://x.slack.com/",
    "team": "X",
    "user": "grace",
    "team_id": "T12345678",
    "user_id": "W12345678",
}


@pytest.fixture(scope="module")
def slack_spec() -> OpenAPIDocument:
    assert SlackEmulator.document is not None
    return SlackEmulator.document


# Validation itself.


def test_the_documented_auth_test_answer_passes(slack_spec: OpenAPIDocument) -> None:
    slack_spec.validate_body(slack_spec.operation("get", "/auth.test"), 200, AUTH_TEST_OK)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"user_id": None}, "'user_id' is a required property"),
        ({"user_id": 5}, "$.user_id: 5 is not of type 'string'"),
        ({"team_id": "acme"}, "$.team_id: 'acme' does not match"),
        ({"shoe_size": 44}, "'shoe_size' was unexpected"),
    ],
)
def test_a_response_that_breaks_the_spec_names_the_field(
    slack_spec: OpenAPIDocument, change: dict[str, object], named: str
) -> None:
    body = {k: v for k, v in {**AUTH_TEST_OK, **change}.items() if v is not None}
    with pytest.raises(SpecViolation) as raised:
        slack_spec.validate_body(slack_spec.operation("get", "/auth.test"), 200, body)
    assert raised.value.operation == "auth_test"
    assert any(named in problem for problem in raised.value.problems), raised.value.problems


def test_an_error_outside_the_documented_codes_fails(slack_spec: OpenAPIDocument) -> None:
    operation = slack_spec.operation("get", "/auth.test")
    slack_spec.validate_body(
        operation, 200, {"ok": False, "error": "invalid_auth"}, response_key="default"
    )
    with pytest.raises(SpecViolation, match=r"\$\.error: 'no_such_error' is not one of"):
        slack_spec.validate_body(
            operation, 200, {"ok": False, "error": "no_such_error"}, response_key="default"
        )


def test_a_request_with_an_undocumented_or_mistyped_argument_fails(
    slack_spec: OpenAPIDocument,
) -> None:
    operation = slack_spec.operation("get", "/conversations.list")
    ok = SpecRequest("get", "/conversations.list", {"query": {"limit": "200", "types": "im"}})
    slack_spec.validate_request(operation, ok)
    with pytest.raises(SpecViolation) as raised:
        slack_spec.validate_request(
            operation,
            SpecRequest(
                "get", "/conversations.list", {"query": {"limit": "lots", "colour": "red"}}
            ),
        )
    problems = raised.value.problems
    assert any("'limit'" in p and "'lots' is not integer" in p for p in problems), problems
    assert any("'colour' is not documented" in p for p in problems), problems


def test_arguments_newer_than_the_spec_pass_only_where_declared(
    slack_spec: OpenAPIDocument,
) -> None:
    # team_id on conversations.list is today's API (Enterprise Grid), absent from the 2020 spec.
    request = SpecRequest("get", "/conversations.list", {"query": {"team_id": "T12345678"}})
    slack_spec.validate_request(slack_spec.operation("get", "/conversations.list"), request)
    with pytest.raises(SpecViolation, match="'team_id' is not documented"):
        slack_spec.validate_request(
            slack_spec.operation("get", "/api.test"),
            SpecRequest("get", "/api.test", {"query": {"team_id": "T12345678"}}),
        )


def test_undocumented_paths_and_statuses_fail(slack_spec: OpenAPIDocument) -> None:
    with pytest.raises(SpecViolation, match="path not documented"):
        slack_spec.operation("post", "/no.such.method")
    jira = OpenAPIDocument.named("jira_cloud_rest_v3_openapi_2025.json")
    with pytest.raises(SpecViolation, match="status 418 not documented"):
        jira.validate_body(jira.operation("get", "/rest/api/3/issue/PRJ-1"), 418, {})


def test_path_parameters_and_referenced_parameter_schemas_are_checked() -> None:
    confluence = OpenAPIDocument.named("confluence_cloud_rest_v2_openapi.json")
    operation = confluence.operation("get", "/pages/123")
    fine = SpecRequest("get", "/pages/123", {"query": {"body-format": "storage"}})
    confluence.validate_request(operation, fine)
    with pytest.raises(SpecViolation, match="path parameter 'id': 'abc' is not integer"):
        confluence.validate_request(operation, SpecRequest("get", "/pages/abc", {}))
    # body-format's schema is a $ref to an enum in components: resolved, not skipped.
    with pytest.raises(SpecViolation, match="'body-format': 'html' is not one of"):
        confluence.validate_request(
            operation, SpecRequest("get", "/pages/123", {"query": {"body-format": "html"}})
        )


def test_openapi_3_documents_are_checked_too() -> None:
    jira = OpenAPIDocument.named("jira_cloud_rest_v3_openapi_2025.json")
    operation = jira.operation("get", "/rest/api/3/issue/PRJ-1")
    jira.validate_body(operation, 200, {"id": "10001", "key": "PRJ-1", "fields": {}})
    with pytest.raises(SpecViolation, match=r"\$\.id: 5 is not of type 'string'"):
        jira.validate_body(operation, 200, {"id": 5, "key": "PRJ-1"})
    with pytest.raises(SpecViolation, match="'updateHistory': 'maybe' is not boolean"):
        jira.validate_request(
            operation,
            SpecRequest(
                "get",
                "/rest/api/3/issue/PRJ-1",
                {"path": {"issueIdOrKey": "PRJ-1"}, "query": {"updateHistory": "maybe"}},
            ),
        )


# The real slack-sdk against the emulator, validation on.


def test_real_sdk_auth_test_and_api_test_pass_with_validation_on(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    assert slack.validate
    bot = slack_client.auth_test()
    identity = slack.state.tokens[slack.state.bot_token]
    assert bot["team_id"] == slack.state.team_id
    assert bot["user_id"] == identity.user_id
    assert bot["bot_id"] == identity.bot_id
    user = WebClient(token=slack.state.user_token, base_url=slack.url + "/api/").auth_test()
    assert user["user"] == "grace"
    assert "bot_id" not in user.data
    assert slack_client.api_test().data == {"ok": True}
    assert slack_client.api_test(foo="bar")["args"] == {"foo": "bar"}
    with pytest.raises(SlackApiError) as raised:
        slack_client.api_test(error="my_error")
    assert raised.value.response.status_code == 200
    assert raised.value.response.data == {
        "ok": False,
        "error": "my_error",
        "args": {"error": "my_error"},
    }
    assert [call.status for call in slack.calls] == [200] * 5
    # Every exchange above was checked: the fixture fails the test on any recorded violation.


def test_a_handler_that_breaks_the_spec_is_caught_on_the_wire(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    def broken(request: ApiRequest) -> ApiResponse:
        return ApiResponse(body={"ok": True, "team": "X", "user_id": "nobody"})

    slack.handlers["auth.test"] = broken
    with pytest.raises(SlackApiError) as raised:
        slack_client.auth_test()
    assert raised.value.response.status_code == 500
    assert raised.value.response.headers.get(VIOLATION_HEADER) == "1"
    violations = slack.take_violations()
    assert len(violations) == 1
    assert any("'url' is a required property" in p for p in violations[0].problems)
    assert any("$.user_id: 'nobody' does not match" in p for p in violations[0].problems)


def test_an_sdk_call_with_an_undocumented_argument_is_caught(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    with pytest.raises(SlackApiError) as raised:
        slack_client.api_call("api.test", params={"bogus": "1"})
    assert raised.value.response.status_code == 500
    [violation] = slack.take_violations()
    assert violation.part == "request"
    assert violation.problems == ["query parameter 'bogus' is not documented"]


def test_an_unknown_method_answers_as_slack_does(slack_client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        slack_client.api_call("no.such.method")
    assert raised.value.response.data == {"ok": False, "error": "unknown_method"}


# State between runs.


def test_state_is_seeded_mutable_and_reset(slack: SlackEmulator, slack_client: WebClient) -> None:
    assert SlackEmulator(seed=8).state == slack.state
    assert SlackEmulator(seed=9).state.team_id != slack.state.team_id
    seeded_team_id = slack.state.team_id
    slack.state.team = "Renamed"
    assert slack_client.auth_test()["team"] == "Renamed"
    slack.inject("*", ServerError(times=None))
    slack.reset()
    assert slack.state.team_id == seeded_team_id
    assert slack.calls == []
    assert slack_client.auth_test()["team"] == "Permindex Emulated"


# Faults.


@pytest.mark.parametrize("drop", ["constructor", "clear"])
def test_a_rate_limit_reaches_the_sdk_with_its_retry_after(slack: SlackEmulator, drop: str) -> None:
    if drop == "constructor":
        client = WebClient(
            token=slack.state.bot_token, base_url=slack.url + "/api/", retry_handlers=[]
        )
    else:
        client = WebClient(token=slack.state.bot_token, base_url=slack.url + "/api/")
        client.retry_handlers.clear()
    slack.inject("auth.test", RateLimited(retry_after="7"))
    with pytest.raises(SlackApiError) as raised:
        client.auth_test()
    response = raised.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.data == {"ok": False, "error": "ratelimited"}
    mapped = error_for_status(response.status_code, response.headers, what="auth.test")
    assert isinstance(mapped, RetryableError)
    assert mapped.retry_after == 7.0
    assert client.auth_test()["ok"] is True  # the fault fired once
    assert [c.faults for c in slack.calls_of("auth.test")] == [("RateLimited",), ()]


def test_server_errors_fire_the_given_number_of_times(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    slack.inject("api.test", ServerError(status=503, times=2, after=1))
    assert slack_client.api_test()["ok"] is True
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            slack_client.api_test()
        assert raised.value.response.status_code == 503
    assert slack_client.api_test()["ok"] is True
    assert slack_client.auth_test()["ok"] is True  # other routes untouched


def test_a_truncated_body_is_not_json(slack: SlackEmulator, slack_client: WebClient) -> None:
    slack.inject("auth.test", Truncated(keep=0.5))
    with pytest.raises(SlackApiError) as raised:
        slack_client.auth_test()
    assert "non-JSON" in raised.value.response["error"]


def test_a_hung_response_times_the_client_out(slack: SlackEmulator) -> None:
    client = WebClient(
        token=slack.state.bot_token, base_url=slack.url + "/api/", retry_handlers=[], timeout=1
    )
    slack.inject("auth.test", Hang(seconds=30))
    with pytest.raises((TimeoutError, urllib.error.URLError)) as raised:
        client.auth_test()
    assert isinstance(error_for_transport(raised.value), RetryableError)


def test_a_slow_page_still_answers(slack: SlackEmulator, slack_client: WebClient) -> None:
    slack.inject("auth.test", Slow(seconds=0.2))
    assert slack_client.auth_test()["ok"] is True
    assert slack.calls_of("auth.test")[0].faults == ("Slow",)


def test_auth_revoked_after_n_calls_answers_invalid_auth(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    slack.revoke_auth_after(2, token=slack.state.bot_token)
    assert slack_client.auth_test()["ok"] is True
    assert slack_client.auth_test()["ok"] is True
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            slack_client.auth_test()
        assert raised.value.response.status_code == 200
        assert raised.value.response.data == {"ok": False, "error": "invalid_auth"}
    user = WebClient(token=slack.state.user_token, base_url=slack.url + "/api/")
    assert user.auth_test()["ok"] is True
