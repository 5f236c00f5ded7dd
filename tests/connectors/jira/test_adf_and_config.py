"""ADF to text, and the configuration a deployment writes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from connectors.jira.adf import adf_to_text
from connectors.jira.config import ApiTokenAuth, BearerAuth, JiraSourceConfig
from connectors.registry import parse_source


def test_adf_keeps_what_a_reader_sees_and_drops_media() -> None:
    doc: dict[str, Any] = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "heading",
                "attrs": {"level": 2},
                "content": [{"type": "text", "text": "Plan"}],
            },
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Ask ", "marks": [{"type": "strong"}]},
                    {"type": "mention", "attrs": {"id": "5b10", "text": "@Alice"}},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "see "},
                    {"type": "inlineCard", "attrs": {"url": "https://example.com/spec"}},
                    {"type": "emoji", "attrs": {"shortName": ":fire:"}},
                ],
            },
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            {"type": "paragraph", "content": [{"type": "text", "text": "one"}]}
                        ],
                    },
                    {
                        "type": "listItem",
                        "content": [
                            {"type": "paragraph", "content": [{"type": "text", "text": "two"}]}
                        ],
                    },
                ],
            },
            {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "abc"}}]},
            {
                "type": "table",
                "content": [
                    {
                        "type": "tableRow",
                        "content": [
                            {
                                "type": "tableCell",
                                "content": [
                                    {
                                        "type": "paragraph",
                                        "content": [{"type": "text", "text": "a"}],
                                    }
                                ],
                            },
                            {
                                "type": "tableCell",
                                "content": [
                                    {
                                        "type": "paragraph",
                                        "content": [{"type": "text", "text": "b"}],
                                    }
                                ],
                            },
                        ],
                    }
                ],
            },
        ],
    }
    assert adf_to_text(doc).splitlines() == [
        "Plan",
        "Ask @Alice",
        "see https://example.com/spec:fire:",
        "one",
        "two",
        "a | b",
    ]


@pytest.mark.parametrize("value", [None, 3, [], {"type": "doc", "content": "x"}, {"no": "type"}])
def test_adf_that_is_not_adf_is_empty_text(value: Any) -> None:
    assert adf_to_text(value) == ""


def test_a_deeply_nested_document_does_not_recurse_without_bound() -> None:
    node: dict[str, Any] = {"type": "text", "text": "deep"}
    for _ in range(5000):
        node = {"type": "paragraph", "content": [node]}
    assert adf_to_text(node) == ""


def test_configuration_takes_secret_references_and_refuses_ordered_filters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JIRA_TOKEN", "s3cret")
    source = parse_source(
        {
            "type": "jira",
            "id": "jira",
            "base_url": "https://acme.atlassian.net",
            "auth": {"kind": "api_token", "email": "bot@acme.com", "token": {"env": "JIRA_TOKEN"}},
            "projects": ["ENG"],
        }
    )
    assert isinstance(source, JiraSourceConfig) and isinstance(source.auth, ApiTokenAuth)
    assert source.auth.token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(source)
    bearer = {"kind": "bearer", "token": {"env": "JIRA_TOKEN"}}
    assert isinstance(
        JiraSourceConfig(id="j", base_url="https://a.atlassian.net", auth=bearer).auth,
        BearerAuth,
    )
    with pytest.raises(ValidationError):
        JiraSourceConfig(
            id="j",
            base_url="https://a.atlassian.net",
            auth=bearer,
            jql="project = ENG ORDER BY created",
        )
