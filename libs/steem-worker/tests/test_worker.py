"""The worker kit against a real nats-server: routes, outcomes, dead letters, retention."""

import asyncio
import json
import logging

import pytest
from ipc_config import WorkerSettings
from steem_testing.jetstream import publish, serve_until, with_js
from steem_testing.messages import block_id_of, op_headers, op_message
from steem_worker import Drop, Idle, Meta, Retry, Worker
from steem_worker.dead_letters import read_letters, replay_letters


def headers(block_num: int, index: int) -> dict[str, str]:
    return op_headers(block_num, 0, index)


def comment(n: int, block_num: int = 1) -> tuple[str, bytes, dict]:
    return op_message("comment", {"n": n}, block_num, 0, n)


async def consumer_state(settings: WorkerSettings, name: str):
    return await with_js(settings, lambda js: js.consumer_info("STEEM", name))


def msg_id(block_num: int, index: int) -> str:
    return op_headers(block_num, 0, index)["Nats-Msg-Id"]


run_until = serve_until


def test_handlers_get_each_op_once_in_order_with_its_metadata(settings):
    async def scenario():
        s = settings()
        await publish(
            s,
            [
                ("steem.op.comment", json.dumps({"n": 1}).encode(), headers(10, 0)),
                ("steem.op.vote", json.dumps({"n": 2}).encode(), headers(10, 1)),
                ("steem.op.transfer", b'{"ignored": true}', headers(11, 0)),
                ("steem.op.comment", json.dumps({"n": 3}).encode(), headers(11, 1)),
            ],
        )
        worker, seen = Worker("tester"), []

        @worker.on("comment")
        async def on_comment(op, meta: Meta):
            seen.append((op["n"], meta))

        @worker.on("vote")
        async def on_vote(op, meta):
            await on_comment(op, meta)

        await run_until(worker, s, lambda: len(seen) == 3)
        return seen, await consumer_state(s, "tester"), s

    seen, info, s = asyncio.run(scenario())
    assert [n for n, _ in seen] == [1, 2, 3]
    meta = seen[1][1]
    assert (meta.type, meta.subject, meta.block_num, meta.block_id, meta.trx_id) == (
        "vote",
        "steem.op.vote",
        10,
        block_id_of(10),
        op_headers(10)["Steem-Trx-Id"],
    )
    assert (meta.timestamp, meta.msg_id, meta.delivery) == ("2016-07-17T12:00:00", msg_id(10, 1), 1)
    assert meta.settings == s
    assert info.num_ack_pending == 0
    assert info.num_pending == 0
    assert info.delivered.stream_seq == 4 or info.ack_floor.stream_seq == 4


def test_a_restarted_worker_resumes_after_what_it_acked(settings):
    async def scenario():
        s = settings()
        await publish(s, [comment(1)])
        seen = []
        for round_ in (1, 2):
            worker = Worker("tester")

            @worker.on("comment")
            async def handler(op, meta, round_=round_):
                seen.append((round_, op["n"]))

            await run_until(worker, s, lambda round_=round_: len(seen) == round_)
            await publish(s, [comment(2, block_num=2)])
        return seen

    assert asyncio.run(scenario()) == [(1, 1), (2, 2)]


def test_malformed_messages_are_kept_as_dead_letters_and_the_worker_goes_on(settings, caplog):
    """What cannot even be decoded never reaches a handler: it is logged, kept as a dead
    letter with the reason, and the worker goes on at once."""

    async def scenario():
        s = settings()
        await publish(
            s,
            [
                ("steem.op.comment", b"not json", headers(1, 0)),
                ("steem.op.comment", b"[1, 2]", headers(1, 1)),
                ("steem.op.comment", b'{"author": "ok"}', headers(1, 2)),
            ],
        )
        worker, seen = Worker("tester"), []

        @worker.on("comment")
        async def handler(op, meta):
            seen.append(op["author"])

        await run_until(worker, s, lambda: seen)
        letters = await with_js(s, lambda js: read_letters(js, "tester"))
        return seen, await consumer_state(s, "tester"), letters

    with caplog.at_level(logging.ERROR):
        seen, info, letters = asyncio.run(scenario())
    assert seen == ["ok"]
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert f"malformed message on steem.op.comment block 1 ({msg_id(1, 0)})" in errors[0]
    assert "Traceback" not in caplog.text
    assert [(x.msg_id, x.subject, x.data) for x in letters] == [
        (msg_id(1, 0), "steem.op.comment", b"not json"),
        (msg_id(1, 1), "steem.op.comment", b"[1, 2]"),
    ]
    assert "not a JSON object" in letters[1].error


def test_drop_acknowledges_bad_data_once_without_a_retry_or_a_dead_letter(settings, caplog):
    async def scenario():
        s = settings()
        await publish(s, [comment(1), comment(2)])
        worker, attempts = Worker("tester", retry_delay=0.1), []

        @worker.on("comment")
        async def handler(op, meta):
            attempts.append((op["n"], meta.delivery))
            if op["n"] == 1:
                raise Drop("no author")

        await run_until(worker, s, lambda: len(attempts) == 2)
        info = await consumer_state(s, "tester")
        return attempts, info, await with_js(s, lambda js: read_letters(js))

    with caplog.at_level(logging.WARNING):
        attempts, info, letters = asyncio.run(scenario())
    assert attempts == [(1, 1), (2, 1)]
    assert info.num_redelivered == 0 and info.num_ack_pending == 0
    assert letters == []
    assert f"dropped steem.op.comment block 1 ({msg_id(1, 1)}): no author" in caplog.text


def test_a_bug_in_a_handler_is_retried_then_kept_as_a_dead_letter(settings, caplog):
    """A KeyError from handler code is not taken for bad data: it is retried, and after
    max_deliver attempts kept with its error; the message after it is handled once."""

    async def scenario():
        s = settings()
        await publish(s, [("steem.op.vote", b"{}", headers(1, 0)), comment(1)])
        worker, attempts = Worker("tester", max_deliver=3, retry_delay=0.1), []

        @worker.on("vote")
        async def on_vote(op, meta):
            attempts.append(("vote", meta.delivery))
            op["weight"]  # noqa: B018 - the bug under test

        @worker.on("comment")
        async def on_comment(op, meta):
            attempts.append(("comment", meta.delivery))

        letters: list = []

        async def kept():
            letters[:] = await with_js(s, lambda js: read_letters(js, "tester"))
            return letters

        await run_until(worker, s, lambda: len(attempts) == 4)
        async with asyncio.timeout(10):
            while not await kept():
                await asyncio.sleep(0.05)
        return attempts, letters, await consumer_state(s, "tester")

    with caplog.at_level(logging.WARNING):
        attempts, letters, info = asyncio.run(scenario())
    assert sorted(attempts) == [("comment", 1), ("vote", 1), ("vote", 2), ("vote", 3)]
    (letter,) = letters
    assert (letter.worker, letter.subject, letter.msg_id) == (
        "tester",
        "steem.op.vote",
        msg_id(1, 0),
    )
    assert letter.error == "KeyError: 'weight'" and letter.deliveries == 3
    assert info.num_ack_pending == 0 and info.num_pending == 0
    assert "replay with: steem-dead replay tester" in caplog.text


def test_retry_hands_the_message_again_after_its_delay(settings):
    async def scenario():
        s = settings()
        await publish(s, [comment(1)])
        worker, attempts = Worker("tester"), []

        @worker.on("comment")
        async def handler(op, meta):
            attempts.append(meta.delivery)
            if meta.delivery == 1:
                raise Retry(0.2, "price not known yet")

        await run_until(worker, s, lambda: len(attempts) == 2)
        return attempts, await with_js(s, lambda js: read_letters(js))

    assert asyncio.run(scenario()) == ([1, 2], [])


def test_a_replayed_dead_letter_goes_back_to_its_worker_alone(settings):
    """Two workers read the same comment; one gives up on it. Replayed, it reaches that
    worker again under its own id and subject, never the other one, and leaves the dead
    letters."""

    async def scenario():
        s = settings(WORKER_MAX_DELIVER="1")
        await publish(s, [comment(7)])
        failing, other, seen = Worker("failing"), Worker("other"), []
        broken = [True]

        @failing.on("comment")
        async def flaky(op, meta):
            seen.append(("failing", meta.msg_id, meta.subject))
            if broken[0]:
                raise RuntimeError("database down")

        @other.on("comment")
        async def steady(op, meta):
            seen.append(("other", meta.msg_id, meta.subject))

        stop = asyncio.Event()
        tasks = [asyncio.create_task(w.serve(s, stop)) for w in (failing, other)]
        try:
            async with asyncio.timeout(20):
                while not await with_js(s, lambda js: read_letters(js, "failing")):
                    await asyncio.sleep(0.05)
                broken[0] = False
                replayed = await with_js(s, lambda js: replay_letters(js, "failing"))
                while len(seen) < 3:
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 10)
        return seen, replayed, await with_js(s, lambda js: read_letters(js))

    seen, replayed, left = asyncio.run(scenario())
    assert sorted(seen) == [
        ("failing", msg_id(1, 7), "steem.op.comment"),
        ("failing", msg_id(1, 7), "steem.op.comment"),
        ("other", msg_id(1, 7), "steem.op.comment"),
    ]
    assert [letter.msg_id for letter in replayed] == [msg_id(1, 7)]
    assert left == []


def test_block_and_fork_handlers_get_their_messages(settings):
    async def scenario():
        s = settings()
        block = {"block_num": 5, "block_id": "00000005aa", "previous": "0000000400", "op_count": 0}
        fork = {"fork_point": {"block_num": 4}, "abandoned": [{"block_num": 5}], "new_branch": []}
        await publish(
            s,
            [
                ("steem.block", json.dumps(block).encode(), {"Nats-Msg-Id": "00000005aa/block"}),
                ("steem.fork", json.dumps(fork).encode(), {"Nats-Msg-Id": "fork/x"}),
            ],
        )
        worker, seen = Worker("tester"), []

        @worker.on_block
        async def on_block(body, meta):
            seen.append((meta.type, body["block_num"]))

        @worker.on_fork
        async def on_fork(body, meta):
            seen.append((meta.type, body["abandoned"][0]["block_num"]))

        await run_until(worker, s, lambda: len(seen) == 2)
        return seen

    assert asyncio.run(scenario()) == [("block", 5), ("fork", 5)]


def test_worker_names_must_be_one_subject_token():
    with pytest.raises(ValueError):
        Worker("my bot")
    worker = Worker("ok")
    worker.on("vote")(lambda op, meta: None)
    with pytest.raises(ValueError, match="two handlers"):
        worker.on("vote")(lambda op, meta: None)


def test_a_filter_acks_what_it_rejects_without_calling_the_handler(settings):
    async def scenario():
        s = settings()
        await publish(s, [comment(n) for n in range(6)])
        worker, seen = Worker("tester"), []

        @worker.on("comment", when=lambda op: op["n"] % 2 == 1)
        async def odd(op, meta):
            seen.append(op["n"])

        await run_until(worker, s, lambda: seen[-1:] == [5])
        return seen, await consumer_state(s, "tester")

    seen, info = asyncio.run(scenario())
    assert seen == [1, 3, 5]
    assert info.num_ack_pending == 0 and info.num_pending == 0 and info.num_redelivered == 0


def test_worker_settings_override_the_delivery_values_of_its_code(settings):
    worker = Worker("tester", batch_size=50, ack_wait=10.0)
    params = worker.params(settings(WORKER_ACK_WAIT="2.5", WORKER_BATCH_SIZE="1"))
    assert (params.ack_wait, params.batch_size, params.max_deliver) == (2.5, 1, 5)
    assert worker.params(settings()).ack_wait == 10.0


def test_wildcard_subjects_a_background_task_and_idling(settings, caplog):
    """on_subject takes NATS wildcards; on_running runs beside the consumers; an on_start
    hook raising Idle keeps the worker up, saying why once."""

    async def scenario():
        s = settings()
        await publish(s, [("steem.tx.request.someone", b'{"n": 1}', {"Nats-Msg-Id": "r/1"})])
        worker, seen, ticks = Worker("tester"), [], []

        @worker.on_subject("steem.tx.request.>")
        async def requests(body, meta):
            seen.append((meta.subject, body["n"]))

        @worker.on_start
        async def ready(settings, service):  # NATS is up: a handler's tools can be made
            ticks.append(f"ready on {service.name}")

        @worker.on_running
        async def tick(service):
            while not service.stop.is_set():
                ticks.append(service.name)
                await asyncio.sleep(0.05)

        await run_until(worker, s, lambda: seen and len(ticks) > 2)
        idle = Worker("idler")
        idle.on("vote")(lambda op, meta: None)

        @idle.on_start
        def missing(settings):
            raise Idle("IDLER_ACCOUNT is not set: nothing to do")

        stop = asyncio.Event()
        serving = asyncio.create_task(idle.serve(s, stop))
        await asyncio.sleep(0.5)  # deliberate: it must still run after a while
        still_up = not serving.done()
        stop.set()
        await asyncio.wait_for(serving, 10)
        return seen, ticks, still_up

    with caplog.at_level(logging.WARNING):
        seen, ticks, still_up = asyncio.run(scenario())
    assert seen == [("steem.tx.request.someone", 1)]
    assert ticks[0] == "ready on tester" and set(ticks[1:]) == {"tester"}
    assert still_up
    assert "IDLER_ACCOUNT is not set: nothing to do; idle" in caplog.text


def test_sigterm_cancels_an_on_start_hook_that_waits(settings):
    """A hook waiting for something that does not come (a node down at start) does not
    keep the worker from stopping."""

    async def scenario():
        worker, cancelled = Worker("waiter"), []
        worker.on("vote")(lambda op, meta: None)

        @worker.on_start
        async def wait_for_a_node(settings):
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        stop = asyncio.Event()
        serving = asyncio.create_task(worker.serve(settings(), stop))
        await asyncio.sleep(0.3)  # deliberate: the hook is waiting by then
        stop.set()
        await asyncio.wait_for(serving, 5)
        return cancelled

    assert asyncio.run(scenario()) == [True]


@pytest.mark.parametrize("once", [True, False])
def test_an_operation_a_fork_re_includes_is_handled_once_unless_asked_otherwise(settings, once):
    """Head mode: a fork publishes the same transaction again in a block with another id.
    The operation (same transaction id and index) reaches the handler once by default."""

    async def scenario():
        s = settings()
        first = op_message("comment", {"n": 1}, block_num=7, trx_index=2, op_index=0)
        again = op_message("comment", {"n": 1}, block_num=8, trx_index=0, op_index=0)
        again[2]["Steem-Trx-Id"] = first[2]["Steem-Trx-Id"]  # the same transaction
        last = op_message("comment", {"n": 2}, block_num=9)
        await publish(s, [first, again, last])
        worker, seen = Worker("tester", once_per_operation=once), []

        @worker.on("comment")
        async def handler(op, meta):
            seen.append((op["n"], meta.block_num))

        await run_until(worker, s, lambda: seen[-1:] == [(2, 9)])
        return seen

    seen = asyncio.run(scenario())
    assert seen == ([(1, 7), (2, 9)] if once else [(1, 7), (1, 8), (2, 9)])
