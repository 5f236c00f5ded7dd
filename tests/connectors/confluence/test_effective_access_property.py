"""Property: on a seeded random space tree with random restrictions, what every user can open
through the index is exactly what an oracle of Confluence's rules admits (space read ∩ every
restricted ancestor ∩ the page's own restriction, groups by membership)."""

from __future__ import annotations

import random

import pytest

from connectors.documents import document_id
from indexer.backends import Stores
from indexer.runner import RunType
from retrieval.identity import IdentityResolver
from tests.connectors.confluence.helpers import ORG, SOURCE, connector, run
from tests.emulators.confluence import ConfluenceEmulator, Content, Site


def oracle(site: Site, content: Content, account_id: str) -> bool:
    def admitted(users: list[str], groups: list[str]) -> bool:
        return account_id in users or any(account_id in site.groups[g].members for g in groups)

    space = site.spaces[content.space_id]
    if not admitted(space.read_users, space.read_groups):
        return False
    node: Content | None = content
    while node is not None:
        if (node.read_users or node.read_groups) and not admitted(
            node.read_users, node.read_groups
        ):
            return False
        node = site.contents[node.parent_id] if node.parent_id else None
    return True


def randomise(site: ConfluenceEmulator, rng: random.Random) -> None:
    people = sorted(site.names.values())
    groups = sorted(site.group_ids.values())
    for group_id in groups:
        site.state.groups[group_id].members = rng.sample(people, rng.randint(1, 4))
    for space in site.state.spaces.values():
        space.read_users = rng.sample(people, rng.randint(0, 2))
        space.read_groups = rng.sample(groups, rng.randint(1, 2))
    for n in range(10):
        pages = [c.id for c in site.state.contents.values() if c.type == "page"]
        parent = rng.choice([None, *pages])
        key = rng.choice(["ENG", "HR"]) if parent is None else None
        if parent is not None:
            key = site.state.spaces[site.state.contents[parent].space_id].key
        assert key is not None
        site.add(key, f"Random {n}", f"<p>random page {n}</p>", parent)
    for content in site.state.contents.values():
        if rng.random() < 0.4:
            site.restrict(
                content.id,
                users=rng.sample(people, rng.randint(0, 2)),
                groups=rng.sample(groups, rng.randint(0, 1)),
            )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_user_opens_exactly_what_confluence_admits(
    site: ConfluenceEmulator, stores: Stores, seed: int
) -> None:
    randomise(site, random.Random(seed))
    conn = connector(site, page_size=50)
    assert run(conn, stores, RunType.groups).status == "succeeded"
    assert run(conn, stores, RunType.full).status == "succeeded"
    resolver = IdentityResolver(stores.directory, ORG)
    state = site.state
    checked = 0
    for account_id, person in state.users.items():
        if not person.email:
            continue  # an account with a hidden email cannot be resolved from an address
        principals = resolver.resolve(person.email)
        for content in state.contents.values():
            external_id = f"{content.space_id}/{content.type}/{content.id}"
            visible = bool(
                stores.index.get_document_chunks(document_id(SOURCE, external_id), principals)
            )
            expected = oracle(state, content, account_id)
            assert visible == expected, (person.name, content.title, expected)
            checked += expected
    assert checked > 0
