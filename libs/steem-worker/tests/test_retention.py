"""A worker whose next messages the stream already removed says so, at once and loudly.

The stream here keeps 4,000 bytes, so a few dozen comments push the oldest out, as
STREAM_MAX_AGE_HOURS and STREAM_MAX_BYTES do in production.
"""

import asyncio
import json
import logging

import nats.js.errors
from ipc_config import POSITIONS_BUCKET, STATUS_BUCKET
from steem_testing.jetstream import publish, serve_until, with_js
from steem_testing.messages import op_message
from steem_worker import Worker

SMALL_STREAM = {"STREAM_MAX_BYTES": "4000"}
PADDING = "x" * 100


def padded(n: int) -> tuple[str, bytes, dict]:
    return op_message("comment", {"n": n, "padding": PADDING}, 1, 0, n)


async def first_and_last(s) -> tuple[int, int]:
    state = (await with_js(s, lambda js: js.stream_info("STEEM"))).state
    return state.first_seq, state.last_seq


def missed_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("MISSED")]


def counting_worker(name: str, seen: list, subject: str = "comment", **options) -> Worker:
    worker = Worker(name, **options)

    @worker.on(subject)
    async def handler(op, meta):
        seen.append(op["n"])

    return worker


def test_a_worker_back_after_the_stream_dropped_its_messages_says_how_many(settings, caplog):
    """It read message 1, was stopped while 60 more came and the oldest were removed: at
    start it names the missing sequences and reports them; a worker that never read
    anything before says nothing."""

    async def scenario():
        s = settings(**SMALL_STREAM)
        await publish(s, [padded(0)])
        seen: list[int] = []
        await serve_until(counting_worker("tester", seen), s, lambda: seen == [0])
        await publish(s, [padded(n) for n in range(1, 61)])
        first, last = await first_and_last(s)
        caplog.clear()
        await serve_until(counting_worker("tester", seen), s, lambda: seen[-1:] == [60])
        back = missed_lines(caplog)
        report = await with_js(s, lambda js: status_report(js, "tester"))
        caplog.clear()
        newcomer: list[int] = []
        await serve_until(counting_worker("newcomer", newcomer), s, lambda: newcomer[-1:] == [60])
        return first, last, seen, back, report, missed_lines(caplog), newcomer

    with caplog.at_level(logging.INFO):
        first, last, seen, back, report, newcomer_lines, newcomer = asyncio.run(scenario())
    assert first > 2, "the stream removed nothing: the test proves nothing"
    assert seen == [0, *range(first - 1, 61)]
    assert back == [
        f"MISSED {first - 2} stream messages, sequences 2 to {first - 1}: the stream removed "
        "them before this worker read them (STREAM_MAX_AGE_HOURS, STREAM_MAX_BYTES); those on "
        "its subjects are lost"
    ]
    assert report["missed"]["messages"] == first - 2
    assert (report["missed"]["from_seq"], report["missed"]["to_seq"]) == (2, first - 1)
    assert newcomer_lines == [] and newcomer == list(range(first - 1, 61))


def test_a_worker_idle_while_other_subjects_are_dropped_missed_nothing(settings, caplog):
    """A worker on votes, with no vote to read while comments come and go: it has read
    everything meant for it, so a restart says nothing."""

    async def scenario():
        s = settings(**SMALL_STREAM)
        await publish(s, [("steem.op.vote", b'{"n": 0}', {"Nats-Msg-Id": "v/0"})])
        seen: list[int] = []
        last: list[int] = []

        async def read_through_the_flood() -> bool:
            if seen and not last:  # the vote is read: now the comments push it out
                await publish(s, [padded(n) for n in range(1, 61)])
                last.append((await first_and_last(s))[1])
            return bool(last) and await with_js(s, lambda js: read_position(js, "voter")) >= last[0]

        voter = counting_worker("voter", seen, subject="vote")
        await serve_until(voter, s, read_through_the_flood, timeout=20)
        assert (await first_and_last(s))[0] > 2, "the stream removed nothing"
        caplog.clear()
        await serve_until(counting_worker("voter", seen, subject="vote"), s, lambda: True)
        return seen, missed_lines(caplog)

    with caplog.at_level(logging.INFO):
        seen, lines = asyncio.run(scenario())
    assert seen == [0]
    assert lines == []


def test_a_running_worker_that_falls_behind_the_stream_is_told_within_seconds(settings, caplog):
    """The stream drops messages while the worker is busy on one: the next check (every
    few seconds) names them, while the worker still runs."""

    async def scenario():
        s = settings(**SMALL_STREAM, WORKER_BATCH_SIZE="1")
        await publish(s, [padded(0)])
        worker, seen, release = Worker("slow"), [], asyncio.Event()

        @worker.on("comment")
        async def slow(op, meta):
            seen.append(op["n"])
            if op["n"] == 0:
                await release.wait()

        async def flood_then_release() -> None:
            while not seen:
                await asyncio.sleep(0.05)
            await publish(s, [padded(n) for n in range(1, 61)])
            while not missed_lines(caplog):
                await asyncio.sleep(0.05)
            release.set()

        flooding = asyncio.create_task(flood_then_release())
        await serve_until(worker, s, lambda: seen[-1:] == [60], timeout=30)
        await flooding
        return seen, missed_lines(caplog), await first_and_last(s)

    with caplog.at_level(logging.INFO):
        seen, lines, (first, _) = asyncio.run(scenario())
    assert len(lines) == 1 and lines[0].startswith(f"MISSED {first - 2} stream messages")
    assert seen == [0, *range(first - 1, 61)]


# -- helpers ----------------------------------------------------------------------------


async def status_report(js, process: str) -> dict:
    bucket = await js.key_value(STATUS_BUCKET)
    for key in await bucket.keys():
        report = json.loads((await bucket.get(key)).value)
        if report.get("process") == process and "missed" in report:
            return report
    return {}


async def read_position(js, worker: str) -> int:
    """The stream sequence the worker has read everything through, as it kept it (0: none)."""
    bucket = await js.key_value(POSITIONS_BUCKET)
    try:
        return json.loads((await bucket.get(worker)).value)["read_through"]
    except nats.js.errors.KeyNotFoundError:
        return 0
