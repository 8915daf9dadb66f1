"""Reading reports and rendering the table, without NATS."""

import pytest
from steem_status.collect import (
    STALE_AFTER,
    DeadLetters,
    StreamStatus,
    SystemStatus,
    broadcaster_status,
    chain_time,
    process_status,
    signer_actions,
)
from steem_status.render import NO_BROADCASTER, NO_POSITION, duration, render, size, table

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0 s"), (119.9, "119 s"), (120, "2 min"), (7199, "119 min"), (7200, "2 h"),
     (172_800, "2 d"), (None, "?")],
)  # fmt: skip
def test_durations(seconds, shown):
    assert duration(seconds) == shown


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (4_200_000, "4.2 MB"), (7e12, "7000.0 GB")],
)
def test_sizes(count, shown):
    assert size(int(count)) == shown


def test_columns_line_up_and_numbers_align_right():
    assert table(("NAME", "PENDING"), [("bot", "3"), ("transfer-watcher", "1,200")]) == [
        "  NAME              PENDING",
        "  bot                     3",
        "  transfer-watcher    1,200",
    ]


def test_a_report_is_stale_after_three_intervals():
    fresh = process_status("process.bot.1", {"updated_at": NOW - STALE_AFTER}, NOW)
    stale = process_status("process.bot.1", {"updated_at": NOW - STALE_AFTER - 0.1}, NOW)
    assert not fresh.stale and stale.stale
    assert process_status("process.x", {}, NOW).stale  # no time at all: stale


def test_uptime_is_live_while_running_or_standing_by_and_frozen_once_stopped_or_stale():
    report = {"state": "running", "started_at": NOW - 100, "uptime": 95.0, "updated_at": NOW - 5}
    assert process_status("process.a", report, NOW).uptime == 100
    assert process_status("process.a", {**report, "state": "standby"}, NOW).uptime == 100
    assert process_status("process.a", {**report, "state": "stopped"}, NOW).uptime == 95.0
    assert process_status("process.a", {**report, "updated_at": NOW - 60}, NOW).uptime == 95.0


def test_malformed_report_fields_read_as_unknown():
    status = process_status("process.odd_1", {"pid": "12", "restarts": True, "host": 5}, NOW)
    assert (status.instance, status.pid, status.restarts, status.host) == (
        "odd_1",
        None,
        None,
        None,
    )
    position = broadcaster_status({"block_num": 7, "head": "9", "updated_at": NOW}, NOW)
    assert (position.block_num, position.head, position.stale) == (7, None, False)


def test_chain_timestamps_are_utc():
    assert chain_time("1970-01-02T00:00:00") == 86_400


def test_missing_parts_are_said_in_the_table():
    status = SystemStatus("nats://127.0.0.1:4222", NOW, None, None, status_bucket=False)
    text = render(status)
    assert "no stream STEEM: nothing published yet (is the broadcaster running?)" in text
    assert NO_BROADCASTER in text
    assert "no durable consumers" in text
    assert "no status reports: no process has reported yet" in text


def test_a_stale_broadcaster_report_is_flagged():
    stream = StreamStatus("STEEM", 10, 2000, 1, 10, 5, 6, "2016-07-17T23:20:54", 3e8)
    position = broadcaster_status(
        {"mode": "head", "block_num": 6, "head": 8, "irreversible": 1, "behind": 2,
         "updated_at": NOW - 30}, NOW,
    )  # fmt: skip
    text = render(SystemStatus("nats://h:4222", NOW, stream, position))
    assert "blocks      5..6" in text
    assert "last block  6 of 2016-07-17T23:20:54 UTC, 3472 d ago" in text
    assert "block       6 (head mode)" in text
    assert "head 8, irreversible 1, 2 blocks behind" in text
    assert "reported    30 s ago  STALE" in text


def test_a_running_broadcaster_without_a_position_yet():
    report = {"process": "broadcaster", "state": "running", "updated_at": NOW}
    running = process_status("process.broadcaster.1", report, NOW)
    text = render(SystemStatus("nats://h:4222", NOW, None, None, processes=[running]))
    assert NO_POSITION in text and NO_BROADCASTER not in text


def test_missed_messages_and_dead_letters_are_shown_loudly():
    missed = {"messages": 1234, "from_seq": 2, "to_seq": 1235, "at": NOW}
    bot = process_status("process.bot.1", {"instance": "bot.1", "missed": missed}, NOW)
    status = SystemStatus(
        "nats://127.0.0.1:4222",
        NOW,
        None,
        None,
        processes=[bot, process_status("process.x.1", {"missed": "odd"}, NOW)],
        dead_letters=[DeadLetters("bot", 3)],
    )
    text = render(status)
    assert (
        "  bot.1 MISSED 1234 stream messages (sequences 2..1235): the stream removed them "
        "before it read them"
    ) in text.splitlines()
    assert text.count("MISSED") == 1, "a malformed report field must not show as missed"
    assert "  bot            3  steem-dead replay bot" in text.splitlines()
    assert status.to_json()["dead_letters"] == [{"worker": "bot", "count": 3}]
    empty = SystemStatus("nats://127.0.0.1:4222", NOW, None, None)
    assert "dead letters\n  none" in render(empty)


def test_the_signers_counts_per_account_from_its_freshest_report():
    reports = {
        "process.signer.1@a": {"instance": "signer.1", "updated_at": NOW - 9, "actions": {
            "accounts": {"alice": {"pending": 9, "included": 0, "failed": 0}}}},
        "process.signer.2@b": {"instance": "signer.2", "updated_at": NOW - 2, "actions": {
            "accounts": {"bob": {"pending": 1, "included": 1200, "failed": 2},
                         "alice": {"pending": 0, "included": 7, "failed": "x"}}}},
        "process.bot.1@a": {"instance": "bot.1", "updated_at": NOW},
    }  # fmt: skip
    actions, source = signer_actions(reports, NOW)
    status = SystemStatus("nats://h:4222", NOW, None, None, actions=actions, actions_from=source)
    text = render(status)
    assert text.endswith(
        "actions (signer)\n"
        "  ACCOUNT  PENDING  INCLUDED  FAILED\n"
        "  alice          0         7       0\n"
        "  bob            1     1,200       2\n"
        "  as signer.2 reported"
    )
    assert status.to_json()["actions"][1] == {
        "account": "bob",
        "pending": 1,
        "included": 1200,
        "failed": 2,
    }
    assert status.to_json()["actions_from"] == "signer.2"
    nothing = render(SystemStatus("nats://h:4222", NOW, None, None))
    assert "actions (signer)\n  no signer report" in nothing
