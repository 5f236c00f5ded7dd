"""The Slack emulator's conversation, user and usergroup methods through the real slack-sdk."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.emulators.slack import SlackEmulator


def test_cursor_pagination_walks_every_page(slack: SlackEmulator, slack_client: WebClient) -> None:
    alice = slack.add_user("Alice Smith", "alice@acme.com").id
    channels = [slack.add_channel(f"c{n}", [alice]).id for n in range(5)]
    for n in range(7):
        slack.post(channels[0], alice, f"message {n}", ts=1_700_000_000 + n)
    listed = [
        c["id"] for page in slack_client.conversations_list(limit=2) for c in page["channels"]
    ]
    assert sorted(listed) == sorted(channels)
    history = [
        m["text"]
        for page in slack_client.conversations_history(channel=channels[0], limit=3)
        for m in page["messages"]
    ]
    assert history == [f"message {n}" for n in reversed(range(7))]
    window = slack_client.conversations_history(
        channel=channels[0], oldest="1700000005.000000", inclusive=True
    )
    assert [m["text"] for m in window["messages"]] == ["message 6", "message 5"]


def test_threads_members_users_and_usergroups(
    slack: SlackEmulator, slack_client: WebClient
) -> None:
    alice = slack.add_user("Alice Smith", "alice@acme.com").id
    guest = slack.add_user("Gina Guest", "gina@acme.com", is_restricted=True).id
    channel = slack.add_channel("eng", [alice, guest], is_private=True)
    root = slack.post(channel.id, alice, "root", ts=1_700_000_000)
    slack.reply(channel.id, root.ts, guest, "first", ts=1_700_000_010)
    slack.reply(channel.id, root.ts, alice, "second", ts=1_700_000_020)
    slack.edit(channel.id, root.ts, "root, edited", at=1_700_000_030)
    thread = slack_client.conversations_replies(channel=channel.id, ts=root.ts)
    assert [m["text"] for m in thread["messages"]] == ["root, edited", "first", "second"]
    assert thread["messages"][0]["latest_reply"] == "1700000020.000000"
    assert thread["messages"][0]["edited"]["ts"] == "1700000030.000000"
    later = slack_client.conversations_replies(
        channel=channel.id, ts=root.ts, oldest="1700000010.0"
    )
    assert [m["text"] for m in later["messages"]] == ["root, edited", "second"]
    members = slack_client.conversations_members(channel=channel.id)["members"]
    assert set(members) == {slack.state.bot_user_id, alice, guest}
    info = slack_client.conversations_info(channel=channel.id)["channel"]
    assert info["is_private"] and not info["is_ext_shared"]
    users = {u["id"]: u for u in slack_client.users_list(limit=1)["members"]}
    assert slack_client.users_info(user=guest)["user"]["is_restricted"] is True
    assert slack_client.team_info()["team"]["id"] == slack.state.team_id
    group = slack.add_usergroup("eng", [alice, guest])
    listed = slack_client.usergroups_list(include_users=True)["usergroups"]
    assert listed[0]["users"] == [alice, guest]
    assert slack_client.usergroups_users_list(usergroup=group.id)["users"] == [alice, guest]
    assert users  # the first page of users.list


def test_ok_false_errors_and_tier_limits(slack: SlackEmulator, slack_client: WebClient) -> None:
    alice = slack.add_user("Alice Smith", "alice@acme.com").id
    channel = slack.add_channel("eng", [alice])
    root = slack.post(channel.id, alice, "root", ts=1_700_000_000)
    slack.reply(channel.id, root.ts, alice, "reply", ts=1_700_000_001)
    slack.delete(channel.id, root.ts)
    tombstone = slack_client.conversations_history(channel=channel.id)["messages"][0]
    assert tombstone["subtype"] == "tombstone"
    with pytest.raises(SlackApiError) as gone:
        slack_client.conversations_replies(channel=channel.id, ts="1600000000.000000")
    assert gone.value.response["error"] == "thread_not_found"
    with pytest.raises(SlackApiError) as missing:
        slack_client.conversations_history(channel="C99999999")
    assert missing.value.response["error"] == "channel_not_found"
    slack.tier_limits = {"conversations.info": 1}
    slack_client.conversations_info(channel=channel.id)
    with pytest.raises(SlackApiError) as limited:
        slack_client.conversations_info(channel=channel.id)
    assert limited.value.response.status_code == 429
    assert int(limited.value.response.headers["retry-after"]) >= 1
