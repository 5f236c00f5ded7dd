"""The Confluence connector's conformance kit: the emulator, seeded (two spaces, each a scope),
changed as users would, pages moved between the spaces included."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from connectors.contract import Connector
from tests.connectors.confluence.helpers import connector
from tests.emulators.confluence import ConfluenceEmulator

KIT_NAME = "confluence"


class ConfluenceKit:
    name = KIT_NAME

    def __init__(self, site: ConfluenceEmulator) -> None:
        self.site = site
        self._serial = 0

    def connector(self) -> Connector:
        return connector(self.site, page_size=4, restriction_page_size=100)

    def change(self, rng: random.Random) -> None:
        site = self.site
        for _ in range(rng.randint(2, 5)):
            site.tick(1)
            live = sorted(
                (c.id for c in site.state.contents.values() if c.status == "current"), key=int
            )
            action = rng.choice(("create", "edit", "trash", "acl", "comment", "move"))
            if action == "create" or not live:
                self._serial += 1
                parent = rng.choice(
                    [None, *[i for i in live if site.state.contents[i].type == "page"]]
                )
                space = (
                    "ENG"
                    if parent is None
                    else site.state.spaces[site.state.contents[parent].space_id].key
                )
                site.add(space, f"New {self._serial}", f"<p>zebrafish {rng.random()}</p>", parent)
            elif action == "edit":
                site.edit(rng.choice(live), f"<p>zebrafish edited {rng.random()}</p>")
            elif action == "comment":
                # Bumps neither the page's version nor its lastmodified.
                author = rng.choice(sorted(site.names))
                text = f"<p>walrus {rng.random()}</p>"
                site.comment(rng.choice(live), text, author, inline=rng.random() < 0.3)
            elif action == "move":
                # With its subtree, to the top of the other space; lastmodified stays.
                pages = [i for i in live if site.state.contents[i].type == "page"]
                if not pages:
                    continue
                target = rng.choice(pages)
                here = site.state.spaces[site.state.contents[target].space_id].key
                site.move(target, "HR" if here == "ENG" else "ENG")
            elif action == "trash":
                site.trash(rng.choice(live))
            else:
                # A restriction set while editing: restriction changes alone wait for a
                # permissions run, which the suite's incremental checks do not run.
                target = rng.choice(live)
                people = sorted(site.names.values())
                site.restrict(target, users=rng.sample(people, rng.randint(1, 3)))
                site.edit(target)


def make_kit(tmp_path: Path) -> Iterator[ConfluenceKit]:
    with ConfluenceEmulator(seed=5) as site:
        yield ConfluenceKit(site)
        violations = site.take_violations()
        assert violations == [], f"traffic broke the Confluence specs: {violations}"
