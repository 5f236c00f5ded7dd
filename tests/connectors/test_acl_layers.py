from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.acl_layers import effective_acl, expand

GROUPS = {
    "group:s:eng": {"user:alice@x.com", "user:bob@x.com", "group:s:platform"},
    "group:s:platform": {"user:carol@x.com"},
    "group:s:hr": {"user:dave@x.com"},
    # a cycle: a contains b, b contains a
    "group:s:a": {"user:erin@x.com", "group:s:b"},
    "group:s:b": {"user:frank@x.com", "group:s:a"},
}


def members_of(group: str) -> set[str]:
    return GROUPS.get(group, set())


def acl(*principals: str) -> frozenset[str]:
    return frozenset(principals)


def test_no_layers_or_an_empty_layer_means_nobody():
    assert effective_acl([], members_of) == frozenset()
    assert effective_acl([acl("org:acme"), acl()], members_of) == frozenset()
    assert effective_acl([acl(), acl("group:s:eng")], members_of) == frozenset()


def test_single_restrictive_layer_is_kept_as_written():
    assert effective_acl([acl("group:s:eng")], members_of) == acl("group:s:eng")


def test_org_wide_layer_constrains_nothing_under_a_narrower_one():
    layers = [acl("org:acme"), acl("group:s:hr")]
    assert effective_acl(layers, members_of) == acl("group:s:hr")


def test_only_org_layers_intersect_normally():
    assert effective_acl([acl("org:acme"), acl("org:acme")], members_of) == acl("org:acme")
    assert effective_acl([acl("org:acme"), acl("org:other")], members_of) == frozenset()


def test_restricted_ancestor_narrows_to_members_of_both_layers():
    # page visible to eng, under an ancestor restricted to alice and dave: only alice passes both
    layers = [acl("user:alice@x.com", "user:dave@x.com"), acl("group:s:eng")]
    assert effective_acl(layers, members_of) == acl("user:alice@x.com")


def test_nested_group_members_pass_the_outer_group_layer():
    layers = [acl("group:s:eng"), acl("group:s:platform")]
    result = effective_acl(layers, members_of)
    assert result == acl("group:s:platform", "user:carol@x.com")


def test_disjoint_layers_mean_nobody():
    assert effective_acl([acl("group:s:eng"), acl("group:s:hr")], members_of) == frozenset()


def test_cyclic_groups_terminate_and_expand_fully():
    assert expand({"group:s:a"}, members_of) == {
        "group:s:a",
        "group:s:b",
        "user:erin@x.com",
        "user:frank@x.com",
    }
    layers = [acl("group:s:a"), acl("user:frank@x.com", "user:alice@x.com")]
    assert effective_acl(layers, members_of) == acl("user:frank@x.com")


PRINCIPALS = sorted({*GROUPS, *(m for ms in GROUPS.values() for m in ms), "org:acme"})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.frozensets(st.sampled_from(PRINCIPALS), max_size=4), max_size=4))
def test_effective_acl_never_admits_anyone_a_layer_rejects(layers):
    result = effective_acl(layers, members_of)
    for layer in layers:
        if any(p.startswith("org:") for p in layer):
            continue  # org-wide layers admit everyone in the organisation
        admitted = expand(layer, members_of)
        assert expand(result, members_of) <= admitted
