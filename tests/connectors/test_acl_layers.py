from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.acl_layers import effective_acl, expand
from connectors.org import OrgPolicy

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


ORG = OrgPolicy(tenant="acme", domains=frozenset({"x.com"}))


def layered(layers, org=ORG):
    return effective_acl(layers, members_of, org)


def acl(*principals: str) -> frozenset[str]:
    return frozenset(principals)


def test_no_layers_or_an_empty_layer_means_nobody():
    assert layered([]) == frozenset()
    assert layered([acl("org:acme"), acl()]) == frozenset()
    assert layered([acl(), acl("group:s:eng")]) == frozenset()


def test_single_restrictive_layer_is_kept_as_written():
    assert layered([acl("group:s:eng")]) == acl("group:s:eng")


def test_org_layer_admits_the_members_of_a_narrower_layer_who_are_in_the_org():
    # hr's members are all at the verified domain: they pass the org layer
    layers = [acl("org:acme"), acl("group:s:hr")]
    assert layered(layers) == acl("user:dave@x.com")


def test_a_guest_named_under_an_org_only_parent_does_not_pass_the_parent():
    layers = [acl("org:acme"), acl("user:guest@gmail.com", "user:alice@x.com")]
    assert layered(layers) == acl("user:alice@x.com")
    guests = OrgPolicy(tenant="acme", domains=frozenset({"x.com"}), guests={"alice@x.com"})
    assert layered(layers, guests) == frozenset()
    members = OrgPolicy(tenant="acme", members={"guest@gmail.com"})
    assert layered(layers, members) == acl("user:guest@gmail.com")


def test_a_foreign_org_is_not_the_tenant():
    # org:partnerco is another organisation: it does not stand for acme's members
    layers = [acl("org:partnerco"), acl("user:alice@x.com")]
    assert layered(layers) == frozenset()
    assert layered([acl("org:partnerco")]) == acl("org:partnerco")


def test_only_org_layers_intersect_normally():
    assert layered([acl("org:acme"), acl("org:acme")]) == acl("org:acme")
    assert layered([acl("org:acme"), acl("org:other")]) == frozenset()


def test_restricted_ancestor_narrows_to_members_of_both_layers():
    # page visible to eng, under an ancestor restricted to alice and dave: only alice passes both
    layers = [acl("user:alice@x.com", "user:dave@x.com"), acl("group:s:eng")]
    assert layered(layers) == acl("user:alice@x.com")


def test_nested_group_members_pass_the_outer_group_layer():
    layers = [acl("group:s:eng"), acl("group:s:platform")]
    result = layered(layers)
    assert result == acl("group:s:platform", "user:carol@x.com")


def test_disjoint_layers_mean_nobody():
    assert layered([acl("group:s:eng"), acl("group:s:hr")]) == frozenset()


def test_cyclic_groups_terminate_and_expand_fully():
    assert expand({"group:s:a"}, members_of) == {
        "group:s:a",
        "group:s:b",
        "user:erin@x.com",
        "user:frank@x.com",
    }
    layers = [acl("group:s:a"), acl("user:frank@x.com", "user:alice@x.com")]
    assert layered(layers) == acl("user:frank@x.com")


PRINCIPALS = sorted(
    {*GROUPS, *(m for ms in GROUPS.values() for m in ms), "org:acme", "user:guest@gmail.com"}
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.frozensets(st.sampled_from(PRINCIPALS), max_size=4), max_size=4))
def test_effective_acl_never_admits_anyone_a_layer_rejects(layers):
    result = layered(layers)
    people = {p for p in PRINCIPALS if p.startswith("user:")} | {"user:guest@gmail.com"}
    for person in people:
        # what the caller would hold at query time: user, groups reaching them, org if member
        held = {person} | {g for g in GROUPS if person in expand({g}, members_of)}
        if ORG.includes(person):
            held.add("org:acme")
        held |= {g for g in GROUPS if "org:acme" in held and "org:acme" in GROUPS.get(g, ())}
        if not held & result:
            continue
        for layer in layers:
            assert held & expand(layer, members_of), (person, layer, result)
