"""A synthetic change-feed source of any size, generated on the fly (seeded) for sync benchmarks.

It behaves like a SaaS source with a change feed (a Drive page token, a Confluence/Jira
``lastModified`` window): every change at the source gets the next change sequence number, and
the connector's checkpoint is a cursor into that sequence.

- ``changes()``: on the first run (no cursor) every live document, in pages, with a
  ``CheckpointReached`` every ``checkpoint_every`` documents (the crawl resumes after the last
  page made durable); afterwards only the content edits made since the cursor. Each page asks the
  index which versions it already holds (``context.indexed_versions``) and skips those.
- ``permissions()``: with an ACL cursor, only the documents whose ACL changed since it; without
  one (or resuming an interrupted pass) every live document's current ACL, in pages, then the
  cursor. The runner resets the permissions checkpoint once a permissions run completes, so
  today every permissions run receives no cursor and is a full pass (see docs/benchmarks.md).
- ``list_live_ids()``: every live id, then ``ListingEnd(completed=True)``.
- Deletions do not appear in the change feed (as with CQL/JQL ``updated >=`` windows): only a
  prune run (or a full run) removes them.

Documents are a few hundred bytes of words from a fixed vocabulary; each is a pure function of
(seed, number, content revision) and its ACL of (seed, number, ACL revision), so the source
holds only what was edited (``SourceState``): its memory does not grow with its size. The
state is a small JSON file, so separate processes (one per benchmark phase) share the source.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.contract import EMPTY_INDEX, Capabilities, Connector, SyncContext
from connectors.documents import SourceDocument
from connectors.events import (
    ChangeEvent,
    Checkpoint,
    CheckpointReached,
    DocumentUpserted,
    ListingEnd,
    ListingEvent,
    LiveId,
    PermissionsChanged,
    PermissionsEvent,
)

SOURCE_ID = "synthetic"
TENANT = "bench"
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
GROUPS = 50
USERS = 200
# Ids asked of the index per ``indexed_versions`` call (the contract: a few hundred).
VERSION_BATCH = 250

_SYLLABLES = (
    "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "do", "fe", "gi", "ha",
    "ju", "be", "co", "ly", "wo", "xi", "ar", "en", "os", "um",
)  # fmt: skip


def _vocabulary(size: int = 2000) -> tuple[str, ...]:
    rng = random.Random("permindex-synthetic-vocabulary")
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))))
    return tuple(sorted(words))


WORDS = _vocabulary()


def external_id(number: int) -> str:
    return f"doc-{number:07d}"


def number_of(external: str) -> int:
    return int(external.removeprefix("doc-"))


@dataclass
class SourceState:
    """What the source holds beyond its generated baseline: edits, deletions, the feed."""

    size: int
    seed: int = 0
    seq: int = 0  # the source's change sequence number: the last change made
    content_revs: dict[int, int] = field(default_factory=dict)  # number -> content revision
    acl_revs: dict[int, int] = field(default_factory=dict)  # number -> ACL revision
    deleted: set[int] = field(default_factory=set)
    # The change feed: (seq, kind, number) with kind "content" or "acl", in seq order.
    feed: list[tuple[int, str, int]] = field(default_factory=list)

    # -- persistence --------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> SourceState:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            size=int(raw["size"]),
            seed=int(raw["seed"]),
            seq=int(raw["seq"]),
            content_revs={int(k): int(v) for k, v in raw["content_revs"].items()},
            acl_revs={int(k): int(v) for k, v in raw["acl_revs"].items()},
            deleted={int(n) for n in raw["deleted"]},
            feed=[(int(s), str(k), int(n)) for s, k, n in raw["feed"]],
        )

    def save(self, path: Path) -> None:
        raw: dict[str, Any] = {
            "size": self.size,
            "seed": self.seed,
            "seq": self.seq,
            "content_revs": self.content_revs,
            "acl_revs": self.acl_revs,
            "deleted": sorted(self.deleted),
            "feed": self.feed,
        }
        path.write_text(json.dumps(raw), encoding="utf-8")

    # -- changes at the source ----------------------------------------------------------------

    def pick(self, count: int, salt: str) -> list[int]:
        """``count`` distinct live document numbers, chosen by the seed (not the whole range)."""
        rng = random.Random(f"{self.seed}:pick:{salt}:{self.seq}")
        chosen: set[int] = set()
        while len(chosen) < min(count, self.size - len(self.deleted)):
            number = rng.randrange(self.size)
            if number not in self.deleted:
                chosen.add(number)
        return sorted(chosen)

    def edit_content(self, count: int) -> list[int]:
        numbers = self.pick(count, "content")
        for number in numbers:
            self.seq += 1
            self.content_revs[number] = self.content_revs.get(number, 0) + 1
            self.feed.append((self.seq, "content", number))
        return numbers

    def edit_acls(self, count: int) -> list[int]:
        numbers = self.pick(count, "acl")
        for number in numbers:
            self.seq += 1
            before = self.acl(number)
            # A new ACL revision that happens to draw the same principals is no change: redraw.
            while self.acl(number) == before:
                self.acl_revs[number] = self.acl_revs.get(number, 0) + 1
            self.feed.append((self.seq, "acl", number))
        return numbers

    def delete(self, count: int) -> list[int]:
        """Deleted at the source without a feed entry: only a listing reveals it."""
        numbers = self.pick(count, "delete")
        self.seq += 1
        self.deleted.update(numbers)
        return numbers

    @property
    def live_count(self) -> int:
        return self.size - len(self.deleted)

    # -- what the source serves ---------------------------------------------------------------

    def version(self, number: int) -> str:
        return f"r{self.content_revs.get(number, 0)}"

    def acl(self, number: int) -> frozenset[str]:
        rng = random.Random(f"{self.seed}:acl:{number}:{self.acl_revs.get(number, 0)}")
        roll = rng.random()
        if roll < 0.4:
            return frozenset({f"org:{TENANT}"})
        if roll < 0.9:
            groups = rng.sample(range(GROUPS), k=rng.randint(1, 2))
            return frozenset(f"group:{SOURCE_ID}:g{g:02d}" for g in groups)
        return frozenset({f"user:u{rng.randrange(USERS):03d}@{TENANT}.example"})

    def document(self, number: int) -> SourceDocument:
        rev = self.content_revs.get(number, 0)
        rng = random.Random(f"{self.seed}:doc:{number}:{rev}")
        title = " ".join(rng.choices(WORDS, k=4)).capitalize()
        sentences = []
        for _ in range(rng.randint(4, 6)):
            words = rng.choices(WORDS, k=rng.randint(8, 14))
            sentences.append(" ".join(words).capitalize() + ".")
        return SourceDocument(
            source_id=SOURCE_ID,
            external_id=external_id(number),
            title=title,
            body=" ".join(sentences),
            url=f"https://synthetic.example/{external_id(number)}",
            updated_at=BASE_TIME + timedelta(hours=rev),
            doc_type="page",
            version=self.version(number),
            acl=self.acl(number),
        )


class SyntheticConnector(Connector):
    """A change-feed connector over a ``SourceState`` (see the module docstring)."""

    capabilities = Capabilities(incremental=True, listing=True, permissions_refresh=True)

    def __init__(
        self, state: SourceState, *, page: int = 500, checkpoint_every: int = 5000
    ) -> None:
        self.source_id = SOURCE_ID
        self.state = state
        self.page = page
        self.checkpoint_every = checkpoint_every
        # What the runner handed over, for the benchmark's report.
        self.received_changes: Checkpoint | None = None
        self.received_permissions: Checkpoint | None = None
        self.fetched = 0  # documents whose content was "downloaded"

    def validate(self) -> None:
        return None

    # -- content ------------------------------------------------------------------------------

    def changes(
        self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        self.received_changes = checkpoint
        value = checkpoint.value if checkpoint is not None else {}
        if checkpoint is None or context.full or "crawl_after" in value:
            yield from self._crawl(value, context)
            return
        cursor = int(value["seq"])
        edited = [
            (seq, n) for seq, kind, n in self.state.feed if seq > cursor and kind == "content"
        ]
        for start in range(0, len(edited), self.page):
            page = edited[start : start + self.page]
            numbers = sorted({n for _, n in page if n not in self.state.deleted})
            yield from self._upserts(numbers, context)
            yield CheckpointReached(checkpoint=Checkpoint(value={"seq": page[-1][0]}))
        yield CheckpointReached(checkpoint=Checkpoint(value={"seq": self.state.seq}))

    def _crawl(self, value: dict[str, Any], context: SyncContext) -> Iterator[ChangeEvent]:
        # Changes made while the crawl runs are read from the feed by the next incremental.
        seq_at_start = int(value.get("seq", self.state.seq))
        after = int(value.get("crawl_after", -1))
        since_checkpoint = 0
        for start in range(after + 1, self.state.size, self.page):
            numbers = [
                n
                for n in range(start, min(start + self.page, self.state.size))
                if n not in self.state.deleted
            ]
            yield from self._upserts(numbers, context)
            since_checkpoint += len(numbers)
            last = min(start + self.page, self.state.size) - 1
            if since_checkpoint >= self.checkpoint_every and last < self.state.size - 1:
                since_checkpoint = 0
                crawl = {"seq": seq_at_start, "crawl_after": last}
                yield CheckpointReached(checkpoint=Checkpoint(value=crawl))
        yield CheckpointReached(checkpoint=Checkpoint(value={"seq": seq_at_start}))

    def _upserts(self, numbers: Sequence[int], context: SyncContext) -> Iterator[ChangeEvent]:
        held: dict[str, str] = {}
        if not context.full:
            for start in range(0, len(numbers), VERSION_BATCH):
                ids = [external_id(n) for n in numbers[start : start + VERSION_BATCH]]
                held.update(context.indexed_versions(ids))
        for number in numbers:
            if held.get(external_id(number)) == self.state.version(number):
                # Same version in the index: not downloaded; its ACL may still differ.
                yield PermissionsChanged(
                    source_id=self.source_id,
                    external_id=external_id(number),
                    acl=self.state.acl(number),
                )
                continue
            self.fetched += 1
            yield DocumentUpserted(document=self.state.document(number))

    # -- permissions --------------------------------------------------------------------------

    def permissions(
        self, checkpoint: Checkpoint | None = None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[PermissionsEvent]:
        self.received_permissions = checkpoint
        value = checkpoint.value if checkpoint is not None else {}
        if "acl_seq" in value and "pass_after" not in value:
            cursor = int(value["acl_seq"])
            changed = sorted(
                {n for seq, kind, n in self.state.feed if seq > cursor and kind == "acl"}
                - self.state.deleted
            )
            for number in changed:
                yield self._acl_event(number)
            yield CheckpointReached(checkpoint=Checkpoint(value={"acl_seq": self.state.seq}))
            return
        # A full pass: every live document's ACL, resumable page by page.
        seq_at_start = int(value.get("acl_seq", self.state.seq))
        after = int(value.get("pass_after", -1))
        since_checkpoint = 0
        for number in range(after + 1, self.state.size):
            if number in self.state.deleted:
                continue
            yield self._acl_event(number)
            since_checkpoint += 1
            if since_checkpoint >= self.checkpoint_every:
                since_checkpoint = 0
                resume = {"acl_seq": seq_at_start, "pass_after": number}
                yield CheckpointReached(checkpoint=Checkpoint(value=resume))
        yield CheckpointReached(checkpoint=Checkpoint(value={"acl_seq": seq_at_start}))

    def _acl_event(self, number: int) -> PermissionsChanged:
        return PermissionsChanged(
            source_id=self.source_id, external_id=external_id(number), acl=self.state.acl(number)
        )

    # -- listing ------------------------------------------------------------------------------

    def list_live_ids(self) -> Iterator[ListingEvent]:
        for number in range(self.state.size):
            if number not in self.state.deleted:
                yield LiveId(external_id=external_id(number))
        yield ListingEnd(completed=True)
