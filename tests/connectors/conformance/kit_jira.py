"""The Jira connector's conformance kit: the seeded site of tests/connectors/jira on the emulator
(two projects, each a scope), changed through edits, new issues, deletions, security level
changes and moves between the projects (each moves `updated`)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from connectors.contract import Connector
from tests.connectors.jira.harness import Site, make_connector, seed_site
from tests.emulators.jira import JiraEmulator

KIT_NAME = "jira"


def make_kit(tmp_path: Path) -> Iterator[JiraKit]:
    with JiraEmulator(seed=11) as jira:
        jira.page_size = 2  # the stop-and-resume checks need several pages per project
        yield JiraKit(jira)
        assert jira.take_violations() == []


class JiraKit:
    name = KIT_NAME

    def __init__(self, jira: JiraEmulator) -> None:
        self.jira = jira
        self.site: Site = seed_site(jira)
        rng = random.Random(5)
        for n in range(4):
            self._create(rng, n)

    def connector(self) -> Connector:
        return make_connector(self.jira)

    def change(self, rng: random.Random) -> None:
        for n in range(rng.randint(2, 5)):
            ids = sorted(self.jira.state.issues)
            action = rng.choice(("create", "edit", "delete", "acl", "move"))
            if action == "create" or not ids:
                self._create(rng, 100 + n)
            elif action == "edit":
                self.jira.edit_issue(
                    rng.choice(ids), description=f"zebrafish edited {rng.random()}"
                )
            elif action == "delete":
                self.jira.delete_issue(rng.choice(ids))
            elif action == "move":
                issue = self.jira.state.issues[rng.choice(ids)]
                eng, ops = self.site.eng_project, self.site.ops_project
                self.jira.edit_issue(issue.id, project_id=ops if issue.project_id == eng else eng)
            else:
                issue = self.jira.state.issues[rng.choice(ids)]
                level = None if issue.level else self.site.leads_level
                self.jira.edit_issue(issue.id, level=level)

    def _create(self, rng: random.Random, n: int) -> None:
        project = rng.choice((self.site.eng_project, self.site.ops_project))
        reporter = rng.choice((self.site.alice, self.site.bob, self.site.carol))
        self.jira.add_issue(project, f"Issue {n}", f"zebrafish notes {rng.random()}", reporter)
