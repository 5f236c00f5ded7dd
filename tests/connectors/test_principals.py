import pytest

from connectors.folder.short_forms import expand_principal
from connectors.principals import (
    InvalidPrincipalError,
    account,
    group,
    normalise_email,
    org,
    user,
    validate_principal,
)


def test_emails_are_normalised_so_one_person_is_one_principal():
    assert user("  Alice.Smith@Example.COM ") == "user:alice.smith@example.com"
    assert validate_principal("user:Bob@Example.com") == "user:bob@example.com"
    assert normalise_email("X@Y.z") == "x@y.z"


@pytest.mark.parametrize(
    "bad", ["alice", "@example.com", "alice@", "a@b@c", "al ice@example.com", "a:b@example.com"]
)
def test_not_an_email_is_rejected(bad):
    with pytest.raises(InvalidPrincipalError):
        normalise_email(bad)


def test_typed_constructors_build_unambiguous_names():
    assert group("confluence", "eng-team") == "group:confluence:eng-team"
    assert org("acme") == "org:acme"
    assert account("slack", "U123") == "account:slack:U123"


@pytest.mark.parametrize(
    "bad",
    [
        "alice@example.com",  # untyped
        "group:eng",  # missing source
        "group:Bad Source:x",
        "org:",
        "account:slack:",
        "role:admin",
        " org:acme",
        "",
    ],
)
def test_untyped_or_malformed_principals_are_rejected(bad):
    with pytest.raises(InvalidPrincipalError):
        validate_principal(bad)


@pytest.mark.parametrize(
    ("short", "full"),
    [
        ("Alice@Example.com", "user:alice@example.com"),
        ("user:Alice@Example.com", "user:alice@example.com"),
        ("org", "org:acme"),
        ("org:other", "org:other"),
        ("group:eng", "group:docs:eng"),
        ("group:jira:eng", "group:jira:eng"),
        ("account:u42", "account:docs:u42"),
        ("account:slack:U1", "account:slack:U1"),
    ],
)
def test_yaml_short_forms_expand_to_typed_principals(short, full):
    assert expand_principal(short, source="docs", tenant="acme") == full


@pytest.mark.parametrize("bad", ["everyone", "group:", "team:eng", "a@b@c"])
def test_unknown_short_forms_are_rejected(bad):
    with pytest.raises(InvalidPrincipalError):
        expand_principal(bad, source="docs", tenant="acme")


@pytest.mark.parametrize(
    "lookalike",
    [
        "\u212aim@acme.com",  # KELVIN SIGN, which lower() turns into k
        "\uff4bim@acme.com",  # FULLWIDTH k
        "kim@acme.com\x85",  # trailing NEL
        "kim@acme.com\n",
        "k\u200bim@acme.com",  # zero-width space
        "kim\u202e@acme.com",  # right-to-left override
        "kim@acme.com\x00",
        "k\ud800im@acme.com",  # lone surrogate
    ],
)
def test_look_alike_and_invisible_characters_never_become_a_real_address(lookalike):
    # Issue 7 item 9: all of these used to resolve to user:kim@acme.com.
    with pytest.raises(InvalidPrincipalError):
        normalise_email(lookalike)
    with pytest.raises(InvalidPrincipalError):
        validate_principal(f"user:{lookalike}")


def test_one_normal_form_at_index_and_query_time():
    assert normalise_email("KIM@ACME.COM") == normalise_email("kim@acme.com") == "kim@acme.com"
    assert normalise_email("Straße@acme.com") == "strasse@acme.com"  # casefold, not lower
    assert normalise_email(normalise_email("Émile@acme.com")) == normalise_email("Émile@acme.com")
