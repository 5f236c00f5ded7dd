"""A golden set for the demo organisation: a few judged queries and many ACL-leak checks.

Written next to the demo's index so ``permindex eval --golden`` can be run against it; the leak
cases list every document of an area the user has no path into, so any trimming bug shows up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from permindex.demo import generator
from permindex.demo.generator import DemoFile
from permindex.demo.org import ALICE, BOB, SOURCE_ID, TENANT

# Areas each demo user has no group path into (after the demo's revocation for Alice), and the
# files in them shared with that user anyway.
FORBIDDEN = {
    ALICE.email: ("hr/", "leadership/", "shared/sales/", "shared/finance/", "security/incidents/"),
    BOB.email: ("security/", "chat/incident-response/", "wiki/engineering/", "tickets/",
                "chat/engineering/", "shared/", "leadership/"),
}  # fmt: skip
SHARED_WITH = {BOB.email: {generator.REORG_PLAN}}
LEAK_QUERIES = [
    "salary bands for senior engineers",
    "leaked API key incident",
    "platform team reorganisation plan",
    "performance review rating",
    "board meeting runway and fundraising",
    "customer account plan renewal",
    "penetration test findings",
]


def golden_set(files: list[DemoFile]) -> dict[str, Any]:
    def ids(user: str, prefixes: tuple[str, ...]) -> list[str]:
        shared = SHARED_WITH.get(user, set())
        return sorted(
            f"{SOURCE_ID}:{f.path}"
            for f in files
            if f.path.startswith(prefixes) and f.path not in shared
        )

    cases: list[dict[str, Any]] = [
        {"id": "bands-hr", "user": BOB.email, "query": "salary bands for senior engineers",
         "relevant": {f"{SOURCE_ID}:{generator.SALARY_BANDS}": 2,
                      f"{SOURCE_ID}:{generator.COMP_PHILOSOPHY}": 1}},
        {"id": "bands-engineer", "user": ALICE.email, "query": "how are salary bands set",
         "relevant": {f"{SOURCE_ID}:{generator.COMP_PHILOSOPHY}": 1}},
        {"id": "reorg-hr", "user": BOB.email, "query": "platform team reorganisation plan",
         "relevant": {f"{SOURCE_ID}:{generator.REORG_PLAN}": 1}},
    ]  # fmt: skip
    for user, prefixes in FORBIDDEN.items():
        forbidden = ids(user, prefixes)
        for number, query in enumerate(LEAK_QUERIES):
            cases.append(
                {
                    "id": f"leak-{user.split('@')[0]}-{number}",
                    "user": user,
                    "query": query,
                    "must_never_receive": forbidden,
                }
            )
    return {"name": f"{TENANT}-demo", "cases": cases}


def write_golden_set(path: Path, files: list[DemoFile]) -> Path:
    path.write_text(yaml.safe_dump(golden_set(files), sort_keys=False), encoding="utf-8")
    return path
