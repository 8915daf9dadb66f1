"""The worker kit against a real nats-server."""

import asyncio
import json
import logging

import nats
import pytest
from ipc_config import NatsSettings, StreamSettings
from steem_worker import OpMeta, Worker
from steem_worker.connection import ensure_stream

STREAM = StreamSettings.from_env({})


def headers(block_num: int, index: int) -> dict[str, str]:
    return {
        "Nats-Msg-Id": f"blk{block_num}/0/{index}",
        "Steem-Block-Num": str(block_num),
        "Steem-Block-Id": f"blk{block_num}",
        "Steem-Trx-Id": f"trx{index}",
        "Steem-Timestamp": "2016-07-17T12:00:00",
    }


async def publish(url: str, messages: list[tuple[str, bytes, dict]]) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_stream(js, STREAM)
    for subject, data, hdrs in messages:
        await js.publish(subject, data, headers=hdrs)
    await nc.close()


async def consumer_state(url: str, name: str):
    nc = await nats.connect(url)
    info = await nc.jetstream().consumer_info("STEEM", name)
    await nc.close()
    return info


async def run_until(worker: Worker, url: str, done: asyncio.Event, timeout: float = 15) -> None:
    stop = asyncio.Event()
    serving = asyncio.create_task(
        worker.serve(NatsSettings.from_env({"NATS_URL": url}), STREAM, stop)
    )
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)


def make_worker(**options) -> tuple[Worker, list, asyncio.Event]:
    return Worker("tester", **options), [], asyncio.Event()


def test_handlers_get_each_op_once_in_order_with_its_metadata(nats_server):
    async def scenario():
        await publish(
            nats_server.url,
            [
                ("steem.op.comment", json.dumps({"n": 1}).encode(), headers(10, 0)),
                ("steem.op.vote", json.dumps({"n": 2}).encode(), headers(10, 1)),
                ("steem.op.transfer", b'{"ignored": true}', headers(11, 0)),
                ("steem.op.comment", json.dumps({"n": 3}).encode(), headers(11, 1)),
            ],
        )
        worker, seen, done = make_worker()

        @worker.on("comment")
        async def on_comment(op, meta: OpMeta):
            seen.append((op["n"], meta))
            if len(seen) == 3:
                done.set()

        @worker.on("vote")
        async def on_vote(op, meta):
            await on_comment(op, meta)

        await run_until(worker, nats_server.url, done)
        info = await consumer_state(nats_server.url, "tester")
        return seen, info

    seen, info = asyncio.run(scenario())
    assert [n for n, _ in seen] == [1, 2, 3]
    meta = seen[1][1]
    assert (meta.op_type, meta.block_num, meta.block_id, meta.trx_id) == (
        "vote",
        10,
        "blk10",
        "trx1",
    )
    assert (meta.timestamp, meta.msg_id, meta.delivery) == ("2016-07-17T12:00:00", "blk10/0/1", 1)
    assert info.num_ack_pending == 0
    assert info.num_pending == 0
    assert info.delivered.stream_seq == 4 or info.ack_floor.stream_seq == 4


def test_a_restarted_worker_resumes_after_what_it_acked(nats_server):
    async def scenario():
        await publish(nats_server.url, [("steem.op.comment", b'{"n": 1}', headers(1, 0))])
        first, seen_first, done_first = make_worker()

        @first.on("comment")
        async def one(op, meta):
            seen_first.append(op["n"])
            done_first.set()

        await run_until(first, nats_server.url, done_first)
        await publish(nats_server.url, [("steem.op.comment", b'{"n": 2}', headers(2, 0))])
        second, seen_second, done_second = make_worker()

        @second.on("comment")
        async def two(op, meta):
            seen_second.append(op["n"])
            done_second.set()

        await run_until(second, nats_server.url, done_second)
        return seen_first, seen_second

    assert asyncio.run(scenario()) == ([1], [2])


def test_malformed_messages_are_logged_dropped_and_the_worker_goes_on(nats_server, caplog):
    async def scenario():
        await publish(
            nats_server.url,
            [
                ("steem.op.comment", b"not json", headers(1, 0)),
                ("steem.op.comment", b"[1, 2]", headers(1, 1)),
                ("steem.op.comment", b'{"no_author": 1}', headers(1, 2)),
                ("steem.op.comment", b'{"author": "ok"}', headers(1, 3)),
            ],
        )
        worker, seen, done = make_worker()

        @worker.on("comment")
        async def handler(op, meta):
            seen.append(op["author"])  # KeyError on the message without one
            done.set()

        await run_until(worker, nats_server.url, done)
        return seen, await consumer_state(nats_server.url, "tester")

    with caplog.at_level(logging.ERROR):
        seen, info = asyncio.run(scenario())
    assert seen == ["ok"]
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3
    assert "malformed message on steem.op.comment block 1 (blk1/0/0)" in errors[0]
    assert "not a JSON object" in errors[1]
    assert "KeyError" in errors[2] and "blk1/0/2" in errors[2]


def test_a_failing_handler_is_retried_then_given_up_with_a_log_line(nats_server, caplog):
    async def scenario():
        await publish(
            nats_server.url,
            [
                ("steem.op.vote", b"{}", headers(1, 0)),
                ("steem.op.vote", b'{"ok": 1}', headers(1, 1)),
            ],
        )
        worker, attempts, done = make_worker(max_deliver=3, retry_delay=0.1)

        @worker.on("vote")
        async def handler(op, meta):
            attempts.append(meta.delivery)
            if len(attempts) == 4:
                done.set()
            if "ok" not in op:
                raise RuntimeError("database down")

        await run_until(worker, nats_server.url, done)
        await asyncio.sleep(0)  # let the last ack go out before reading the consumer
        return attempts

    with caplog.at_level(logging.WARNING):
        attempts = asyncio.run(scenario())
    # The failing message is tried 3 times; the good one after it is handled once.
    assert attempts.count(1) == 2 and 2 in attempts and 3 in attempts and len(attempts) == 4
    assert any(
        "giving up" in r.getMessage() and "3 times" in r.getMessage() for r in caplog.records
    )


def test_worker_names_must_be_one_subject_token():
    with pytest.raises(ValueError):
        Worker("my bot")
    worker = Worker("ok")
    worker.on("vote")(lambda op, meta: None)
    with pytest.raises(ValueError, match="two handlers"):
        worker.on("vote")(lambda op, meta: None)


def test_a_filter_acks_what_it_rejects_without_calling_the_handler(nats_server):
    async def scenario():
        await publish(
            nats_server.url,
            [("steem.op.comment", json.dumps({"n": n}).encode(), headers(1, n)) for n in range(6)],
        )
        worker, seen, done = make_worker()

        @worker.on("comment", when=lambda op: op["n"] % 2 == 1)
        async def odd(op, meta):
            seen.append(op["n"])
            if op["n"] == 5:
                done.set()

        await run_until(worker, nats_server.url, done)
        return seen, await consumer_state(nats_server.url, "tester")

    seen, info = asyncio.run(scenario())
    assert seen == [1, 3, 5]
    assert info.num_ack_pending == 0 and info.num_pending == 0 and info.num_redelivered == 0
