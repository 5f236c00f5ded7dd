"""The Slack conformance kit: a workspace on the emulator, changed as its people would."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

from connectors.contract import Connector
from tests.connectors.slack.workspace import DAY, connector, seed
from tests.emulators.slack import SlackEmulator

KIT_NAME = "slack"


def make_kit(tmp_path: Path) -> Iterator[SlackKit]:
    with SlackEmulator(seed=21) as slack:
        yield SlackKit(slack)
        violations = slack.take_violations()
        assert violations == [], f"traffic broke the Slack spec: {violations}"


class SlackKit:
    name = KIT_NAME

    def __init__(self, slack: SlackEmulator) -> None:
        self.slack = slack
        self.now = time.time()
        people, channels = seed(slack, self.now)
        self.people = [people.alice, people.bob, people.carol]
        self.channels = [channels.general.id, channels.eng.id, channels.secret.id]
        self._serial = 0
        for n in range(6):
            self._post(random.Random(n))

    def connector(self) -> Connector:
        return connector(self.slack)

    def change(self, rng: random.Random) -> None:
        for _ in range(rng.randint(2, 5)):
            action = rng.choice(("post", "reply", "edit", "delete", "acl"))
            channel_id = rng.choice(self.channels)
            channel = self.slack.state.channels[channel_id]
            # Within the connector's lookback window (7 days), or a reply to a tracked thread.
            recent = [m for m in channel.messages if float(m.ts) > self.now - 6 * DAY]
            if action == "post" or not recent:
                self._post(rng)
            elif action == "reply":
                threads = [m for m in channel.messages if m.replies] or recent
                root = rng.choice(threads)
                self._serial += 1
                text = f"zebrafish reply {self._serial}"
                self.slack.reply(channel_id, root.ts, rng.choice(self.people), text, self._ts(rng))
            elif action == "edit":
                message = rng.choice(recent)
                self.slack.edit(
                    channel_id, message.ts, f"zebrafish edited {rng.random()}", self.now
                )
            elif action == "delete":
                self.slack.delete(channel_id, rng.choice(recent).ts)
            else:
                channel.is_private = not channel.is_private

    def _post(self, rng: random.Random) -> None:
        self._serial += 1
        channel_id = rng.choice(self.channels)
        text = f"zebrafish notes {self._serial} {rng.random()}"
        self.slack.post(channel_id, rng.choice(self.people), text, self._ts(rng))

    def _ts(self, rng: random.Random) -> float:
        self._serial += 1
        return self.now - rng.uniform(0, 5 * DAY) + self._serial * 1e-3
