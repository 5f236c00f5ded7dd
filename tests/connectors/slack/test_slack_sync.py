"""The Slack connector end to end: emulator -> real slack-sdk -> runner -> index -> searcher."""

from __future__ import annotations

import time

import pytest

from indexer.runner import RunType
from tests.connectors.slack.workspace import DAY, Harness, SimulatedTime, seed
from tests.emulators.base import RateLimited, ServerError

THREAD = "#general: Offsite planning thread @Bob Jones"


def test_a_full_sync_gives_each_person_what_their_channels_hold(harness: Harness) -> None:
    seed(harness.slack)
    harness.sync()
    assert harness.found("alice@acme.com", "Lisbon") == {THREAD}
    assert harness.found("carol@acme.com", "offsite") == {THREAD}  # public: every full member
    assert harness.found("carol@acme.com", "bluebird") == {"#secret" + _day_title(harness, 4)}
    assert harness.found("bob@acme.com", "bluebird") == set()  # private: members only
    assert harness.found("dave@acme.com", "pizza") == set()  # not in the workspace
    texts = harness.texts("alice@acme.com", "Offsite")
    assert any("Alice Smith: Offsite planning thread @Bob Jones" in t for t in texts)


def _day_title(harness: Harness, days_ago: int) -> str:
    start = int(time.time() - days_ago * DAY)
    start -= start % 86_400
    return f", {time.strftime('%Y-%m-%d', time.gmtime(start))} 00:00 UTC"


def test_a_guest_never_sees_a_public_channel_they_are_not_in(harness: Harness) -> None:
    seed(harness.slack)
    harness.sync()
    assert harness.found("gina@acme.com", "pizza") == set()  # #general: she is not in it
    assert harness.found("gina@acme.com", "Lisbon") == set()
    assert len(harness.found("gina@acme.com", "freeze")) == 1  # #eng: she is in it
    assert len(harness.found("bob@acme.com", "pizza")) == 1


def test_a_slack_connect_external_member_sees_only_that_channel(harness: Harness) -> None:
    seed(harness.slack)
    harness.sync()
    assert len(harness.found("xavier@partner.io", "renewal")) == 1
    for query in ("pizza", "Lisbon", "freeze", "bluebird"):
        assert harness.found("xavier@partner.io", query) == set()
    # Shared, so not the whole workspace: only this organisation's members in the channel.
    assert len(harness.found("alice@acme.com", "renewal")) == 1
    assert harness.found("bob@acme.com", "renewal") == set()


def test_an_external_claiming_an_address_here_does_not_get_that_persons_access(
    harness: Harness,
) -> None:
    _, channels = seed(harness.slack)
    impostor = harness.slack.add_user("Mallory", "carol@acme.com", team_id="TPARTNER01").id
    harness.slack.state.channels[channels.connect.id].members.append(impostor)
    harness.sync()
    assert harness.found("carol@acme.com", "renewal") == set()


def test_a_late_reply_to_a_month_old_thread_is_found_by_the_next_incremental(
    harness: Harness,
) -> None:
    _, channels = seed(harness.slack)
    harness.sync()
    assert harness.run(RunType.incremental).status == "succeeded"
    root = harness.slack.state.channels[channels.general.id].messages[0]
    harness.slack.reply(channels.general.id, root.ts, root.user, "zanzibar instead", time.time())
    record = harness.run(RunType.incremental)
    assert record.status == "succeeded", record.message
    assert harness.found("bob@acme.com", "zanzibar") == {THREAD}


def test_edits_and_deletions_are_reflected_by_the_next_incremental(harness: Harness) -> None:
    people, channels = seed(harness.slack)
    eng = channels.eng.id
    root = harness.slack.post(eng, people.bob, "incident review notes", time.time() - DAY)
    harness.slack.reply(eng, root.ts, people.alice, "root cause was the cache", time.time() - 80000)
    general = harness.slack.state.channels[channels.general.id]
    offsite = general.messages[0]
    reply = harness.slack.reply(general.id, offsite.ts, people.carol, "venue tbd", time.time())
    harness.sync()
    lunch = next(m for m in general.messages if "pizza" in m.text)
    harness.slack.edit(channels.general.id, lunch.ts, "lunch menu is sushi", time.time())
    parking = next(m for m in general.messages if "parking" in m.text)
    harness.slack.delete(channels.general.id, parking.ts)
    harness.slack.delete(eng, root.ts)  # a parent with replies becomes a tombstone
    harness.slack.edit(general.id, reply.ts, "venue is the old tram depot", time.time())

    record = harness.run(RunType.incremental)
    assert record.status == "succeeded", record.message
    assert harness.found("bob@acme.com", "pizza") == set()
    assert len(harness.found("bob@acme.com", "sushi")) == 1
    assert harness.found("bob@acme.com", "parking") == set()
    assert harness.found("alice@acme.com", "cache") == set()  # the deleted thread is gone
    assert harness.found("bob@acme.com", "tram depot") == {THREAD}  # an edited reply
    assert harness.found("bob@acme.com", "tbd") == set()
    assert harness.run(RunType.prune).status == "succeeded"


def test_a_removed_private_channel_member_loses_access_after_the_next_groups_run(
    harness: Harness,
) -> None:
    people, channels = seed(harness.slack)
    harness.sync()
    assert len(harness.found("carol@acme.com", "bluebird")) == 1
    harness.slack.state.channels[channels.secret.id].members.remove(people.carol)
    assert harness.run(RunType.groups).status == "succeeded"
    assert harness.found("carol@acme.com", "bluebird") == set()
    assert len(harness.found("alice@acme.com", "bluebird")) == 1


def test_a_deleted_channel_takes_its_documents_with_it(harness: Harness) -> None:
    _, channels = seed(harness.slack)
    harness.sync()
    del harness.slack.state.channels[channels.eng.id]
    assert harness.run(RunType.incremental).status == "succeeded"
    assert harness.found("alice@acme.com", "freeze") == set()


def test_a_storm_of_429s_completes(harness: Harness) -> None:
    seed(harness.slack)
    simulated = SimulatedTime()
    harness.slack.clock = simulated
    harness.options["sleep"] = simulated.sleep
    harness.slack.inject("conversations.history", RateLimited(retry_after="1", times=4))
    harness.slack.inject("conversations.replies", RateLimited(retry_after="0.5", times=3))
    harness.slack.inject("users.list", RateLimited(retry_after=None, times=2))
    harness.slack.inject("conversations.members", RateLimited(retry_after="2", times=3))
    # Tier limits on top: two listings a minute, waited out by the shared policy's Retry-After.
    harness.slack.tier_limits = {"conversations.list": 2, "users.list": 1}
    harness.sync()
    assert harness.run(RunType.incremental).status == "succeeded"
    assert harness.found("alice@acme.com", "Lisbon") == {THREAD}
    refused = [c for c in harness.slack.calls if c.status == 429]
    assert len(refused) >= 12
    assert simulated.now - time.time() >= 60  # the limits' Retry-After was waited out


def test_a_listing_failure_deletes_nothing(harness: Harness) -> None:
    _, channels = seed(harness.slack)
    harness.sync()
    del harness.slack.state.channels[channels.eng.id]
    harness.slack.inject("conversations.list", ServerError(status=503, times=None, after=0))
    for run_type in (RunType.incremental, RunType.full, RunType.prune):
        assert harness.run(run_type).status == "failed"
    harness.slack.clear_faults()
    assert len(harness.found("alice@acme.com", "freeze")) == 1
    harness.slack.inject("conversations.history", ServerError(status=503, times=None, after=2))
    record = harness.run(RunType.prune)
    assert record.status == "failed"
    assert "nothing was pruned" in (record.message or "")
    assert len(harness.found("alice@acme.com", "freeze")) == 1


def test_a_revoked_token_stops_the_run_without_advancing(harness: Harness) -> None:
    seed(harness.slack)
    harness.sync()
    harness.slack.revoke_auth_after(3)
    record = harness.run(RunType.incremental)
    assert record.status == "failed"
    assert "invalid_auth" in (record.message or "")
    assert len(harness.found("alice@acme.com", "Lisbon")) == 1


def test_a_public_channel_made_private_is_narrowed_by_the_next_incremental(
    harness: Harness,
) -> None:
    people, channels = seed(harness.slack)
    harness.slack.state.channels[channels.general.id].members.remove(people.bob)
    harness.slack.post(channels.general.id, people.alice, "quarterly retro", time.time() - 20 * DAY)
    harness.sync()
    assert harness.found("bob@acme.com", "Lisbon") == {THREAD}  # public: every full member
    assert len(harness.found("bob@acme.com", "retro")) == 1
    harness.slack.state.channels[channels.general.id].is_private = True
    assert harness.run(RunType.incremental).status == "succeeded"
    # The month-old thread and the retro lie outside the re-read window, yet follow the channel.
    assert harness.found("bob@acme.com", "Lisbon") == set()
    assert harness.found("bob@acme.com", "retro") == set()
    assert harness.found("carol@acme.com", "Lisbon") == {THREAD}
    assert len(harness.found("carol@acme.com", "retro")) == 1


@pytest.mark.parametrize(("policy", "kept"), [("index", True), ("drop", False)])
def test_archived_channels_follow_the_configured_policy(
    harness: Harness, policy: str, kept: bool
) -> None:
    _, channels = seed(harness.slack)
    harness.options["archived"] = policy
    harness.sync()
    harness.slack.state.channels[channels.eng.id].is_archived = True
    assert harness.run(RunType.incremental).status == "succeeded"
    assert bool(harness.found("alice@acme.com", "freeze")) is kept
    assert harness.found("bob@acme.com", "freeze") == (harness.found("alice@acme.com", "freeze"))


def test_groups_report_channels_teams_usergroups_and_the_org(harness: Harness) -> None:
    people, channels = seed(harness.slack)
    group = harness.slack.add_usergroup("oncall", [people.alice, people.xavier])
    harness.sync()
    members = harness.stores.directory.members_of
    team = f"group:chat:team:{harness.slack.state.team_id}"
    assert members(team) == {"user:alice@acme.com", "user:bob@acme.com", "user:carol@acme.com"}
    assert members("group:chat:@org-guests") == {"user:gina@acme.com"}
    assert members(f"group:chat:usergroup:{group.id}") == {
        "user:alice@acme.com",
        f"account:chat:{people.xavier}",
    }
    assert f"account:chat:{people.xavier}" in members(f"group:chat:channel:{channels.connect.id}")


def test_a_permissions_run_hides_a_channel_the_bot_left(harness: Harness) -> None:
    _, channels = seed(harness.slack)
    harness.sync()
    bot = harness.slack.state.bot_user_id
    harness.slack.state.channels[channels.eng.id].members.remove(bot)
    assert harness.run(RunType.permissions).status == "succeeded"
    assert harness.found("alice@acme.com", "freeze") == set()
