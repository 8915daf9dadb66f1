"""A worker handles each message once, even when NATS goes away, a handler is slow, or
an ack is lost. Each test runs real nats-servers; ack_wait is cut to a second so the
server's redeliveries come quickly.
"""

import asyncio
import json
import logging
import time

import nats
import pytest
from ipc_config import WorkerSettings
from nats.js.api import ConsumerConfig
from steem_testing.jetstream import consumer_info, publish
from steem_testing.servers import NatsServer, free_port
from steem_testing.waiting import until
from steem_worker import Worker
from steem_worker.connection import close, connect, ensure_streams
from steem_worker.consumers import ensure_consumer
from steem_worker.delivery import Delivery, Timing, confirm_ack
from steem_worker.handled_ids import HandledIds
from steem_worker.worker import Context, JetStreamOutlet

STREAM = WorkerSettings.from_env({})
STATE: list = []  # the folder of the running test, where workers keep their handled ids


@pytest.fixture(autouse=True)
def state_dir(tmp_path):
    STATE[:] = [tmp_path / "state"]
    yield
    STATE.clear()


def worker_settings(url: str) -> WorkerSettings:
    return WorkerSettings.from_env({"NATS_URL": url, "WORKER_STATE_DIR": str(STATE[0])})


ACK_WAIT = 1.0
CONFIRM_WAIT = 4.0  # more than one unanswered ack request (2 s)


async def publish_comments(url: str, count: int) -> None:
    comments = [
        (
            "steem.op.comment",
            json.dumps({"n": n}).encode(),
            {"Nats-Msg-Id": f"blk/0/{n}", "Steem-Block-Num": "1"},
        )
        for n in range(count)
    ]
    await publish(WorkerSettings.from_env({"NATS_URL": url}), comments)


async def settled_consumer(url: str, timeout: float = 20):
    """The info of the consumer "tester" once nothing is pending or waiting for an ack."""

    async def settled():
        info = await consumer_info(url, "tester")
        return info if info and info.num_pending == 0 and info.num_ack_pending == 0 else None

    return await until(settled, timeout, "the consumer to settle", every=0.1)


async def wait_for_pull_request(url: str, timeout: float = 20) -> None:
    """Until a copy of the worker waits for messages."""

    async def waiting() -> bool:
        info = await consumer_info(url, "tester")
        return bool(info and info.num_waiting)

    await until(waiting, timeout, "a pull request")


def serving(worker: Worker, url: str, stop: asyncio.Event) -> asyncio.Task:
    return asyncio.create_task(worker.serve(worker_settings(url), stop))


async def wait_for(condition, timeout: float, what: str) -> None:
    await until(condition, timeout, what)


async def run_until_settled(url: str, workers: list[Worker], done, what: str):
    """Serve `workers` until `done()` and the consumer has nothing left; its info then."""
    stop = asyncio.Event()
    tasks = [serving(worker, url, stop) for worker in workers]
    try:
        await wait_for(done, 30, what)
        return await settled_consumer(url)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)


def start_server_with_users(procs, tmp_path, port: int, worker_may_ack: bool):
    """A nats-server with a `publisher` user and a `worker` user who, unless
    `worker_may_ack`, may not publish acks: the server never hears them."""
    deny = "" if worker_may_ack else ', deny: "$JS.ACK.>"'
    config = tmp_path / "nats.conf"
    config.write_text(
        f"""
        listen: 127.0.0.1:{port}
        jetstream {{ store_dir: "{tmp_path / "js"}" }}
        authorization {{ users = [
            {{ user: publisher, password: publisher }}
            {{ user: worker, password: worker,
               permissions: {{ publish: {{ allow: ">"{deny} }} }} }}
        ] }}
        """
    )
    return NatsServer(procs, tmp_path / "js", port, config=config).start()


async def handle_in_turn(url: str, count: int, worker: Worker, on_message):
    """Publish `count` comments and serve `worker` until it has handled each; its handler
    records the message's number, then awaits `on_message(number, meta)`. Returns the
    numbers in the order handled and the consumer's info once settled."""
    await publish_comments(url, count)
    seen: list[int] = []

    @worker.on("comment")
    async def handler(op, meta):
        seen.append(op["n"])
        await on_message(op["n"], meta)

    info = await run_until_settled(
        url, [worker], lambda: len(set(seen)) == count, "every message handled"
    )
    return seen, info


def test_an_outage_longer_than_ack_wait_during_an_ack_runs_nothing_twice(nats_server):
    """NATS stops while a handler runs and stays away three times ack_wait: the worker
    waits to confirm that ack, and does not handle the rest of its batch meanwhile."""

    async def back_after_a_while() -> None:
        await asyncio.sleep(3 * ACK_WAIT)
        await asyncio.to_thread(nats_server.start)

    outages = []

    async def stop_nats_once(number, meta):
        if not outages:
            await asyncio.to_thread(nats_server.stop)
            outages.append(asyncio.create_task(back_after_a_while()))

    worker = Worker("tester", ack_wait=ACK_WAIT)
    seen, info = asyncio.run(handle_in_turn(nats_server.url, 10, worker, stop_nats_once))
    assert seen == list(range(10))
    assert info.ack_floor.stream_seq == 10


def test_after_a_short_outage_the_batch_in_hand_is_handled_in_order(nats_server):
    """NATS restarts in about a second, well within ack_wait: the messages fetched before
    are still ours, so they are handled at once, in order, before the next batch."""

    async def restart_nats_after_the_first(number, meta):
        if number == 0:
            await asyncio.to_thread(nats_server.stop)
            await asyncio.to_thread(nats_server.start)

    worker = Worker("tester", batch_size=5)
    seen, info = asyncio.run(
        handle_in_turn(nats_server.url, 10, worker, restart_nats_after_the_first)
    )
    assert seen == list(range(10))
    assert info.num_redelivered == 0


def test_copies_sharing_a_consumer_do_not_both_run_a_batch_stranded_by_an_outage(nats_server):
    """The first copy holds a whole batch when NATS goes away, the second one waits for
    messages. After the outage the server gives the stranded messages out again at once:
    the first copy must leave what it had not handled instead of handling it as well.

    Only the message in hand at the outage may run twice: its ack races the second copy's
    first pull when the server comes back."""

    async def outage() -> None:
        await asyncio.to_thread(nats_server.stop)
        await asyncio.sleep(2 * ACK_WAIT)
        await asyncio.to_thread(nats_server.start)

    async def scenario():
        await publish_comments(nats_server.url, 20)
        stop, handled = asyncio.Event(), []
        tasks: list[asyncio.Task] = []
        first, second = (Worker("tester", ack_wait=ACK_WAIT) for _ in range(2))

        @first.on("comment")
        async def slow_first(op, meta):
            handled.append(("first", op["n"]))
            if len(tasks) == 1:  # the first message: start the second copy, then the outage
                tasks.append(serving(second, nats_server.url, stop))
                await wait_for_pull_request(nats_server.url)
                tasks.append(asyncio.create_task(outage()))
            await asyncio.sleep(0.1)  # the batch outlasts ack_wait once NATS is back

        @second.on("comment")
        async def quick_second(op, meta):
            handled.append(("second", op["n"]))

        tasks.append(serving(first, nats_server.url, stop))
        await wait_for(lambda: len({n for _, n in handled}) == 20, 40, "every message handled")
        info = await settled_consumer(nats_server.url)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        return handled, info

    handled, info = asyncio.run(scenario())
    numbers = sorted(n for _, n in handled)
    assert set(numbers) == set(range(20))
    assert numbers in (list(range(20)), [0, *range(20)]), f"handled twice: {handled}"
    assert {who for who, _ in handled} == {"first", "second"}, "the second copy took no share"
    assert info.ack_floor.stream_seq == 20


def test_a_handler_slower_than_ack_wait_keeps_its_message(nats_server):
    """While one copy works on a message for 2.5 × ack_wait, the other copy, fetching all
    the time, must not get it."""

    async def scenario():
        handled = []
        copies = [Worker("tester", ack_wait=ACK_WAIT) for _ in range(2)]
        for name, copy in zip(("a", "b"), copies, strict=True):

            @copy.on("comment")
            async def slow(op, meta, name=name):
                handled.append((name, op["n"], meta.delivery))
                await asyncio.sleep(2.5 * ACK_WAIT)

        await publish_comments(nats_server.url, 1)
        info = await run_until_settled(nats_server.url, copies, lambda: True, "")
        return handled, info

    handled, info = asyncio.run(scenario())
    assert len(handled) == 1, f"handled more than once: {handled}"
    assert info.num_redelivered == 0


def test_a_run_of_slow_handlers_keeps_its_batch_fresh(nats_server, caplog):
    """Eight handlers of 0.3 × ack_wait each take 2.4 × ack_wait for one batch: the worker
    keeps the whole batch while it works through it, so each message is handled on its
    first delivery, and nothing is left to the server or given out again."""

    async def slow(number, meta):
        await asyncio.sleep(0.3 * ACK_WAIT)  # deliberate: a slow handler (a node call, say)

    worker = Worker("tester", ack_wait=ACK_WAIT, batch_size=8)
    with caplog.at_level(logging.INFO):
        seen, info = asyncio.run(handle_in_turn(nats_server.url, 8, worker, slow))
    assert seen == list(range(8))
    assert info.num_redelivered == 0
    assert not [r for r in caplog.records if "leaving" in r.getMessage()]


def test_the_rest_of_a_stale_batch_is_still_handled_before_newer_messages(nats_server):
    """A process stalled long enough to leave the rest of its batch stale (0.8 × ack_wait;
    no keep-alive can go out meanwhile) while newer messages wait beyond the batch: the
    left messages come back to the worker before the newer ones, so a single copy still
    handles everything once, in stream order."""

    async def slow_on_the_second(number, meta):
        if number == 1 and meta.delivery == 1:
            time.sleep(0.8 * ACK_WAIT)  # deliberate: the whole process stalls

    worker = Worker("tester", ack_wait=ACK_WAIT, batch_size=4)
    seen, info = asyncio.run(handle_in_turn(nats_server.url, 12, worker, slow_on_the_second))
    assert seen == list(range(12))
    assert info.ack_floor.stream_seq == 12


def test_messages_buffered_from_a_late_pull_are_left_with_a_stale_batch(nats_server):
    """A pull the server answered after nats-py's fetch had given up leaves messages in
    nats-py's buffer, which the next fetch hands over first. When the batch goes stale
    (a slow handler here, an outage in production), those are as old as the batch: the
    worker leaves them to the server too, so everything is still handled in order."""

    async def scenario():
        await publish_comments(nats_server.url, 12)
        worker, seen, buffered = Worker("tester", ack_wait=ACK_WAIT, batch_size=4), [], []

        @worker.on("comment")
        async def handler(op, meta):
            seen.append(op["n"])
            if op["n"] == 1 and meta.delivery == 1:
                # A pull of the worker's that no fetch waits for any more: the server's
                # answer (messages 4 to 7) lands in nats-py's buffer.
                subscription = consumer._subscription
                await nc.publish(subscription._nms, b'{"batch": 4}', reply=subscription._deliver)
                await until(lambda: subscription.pending_msgs == 4, 5, "the late answer")
                buffered.append(subscription.pending_msgs)
                time.sleep(0.8 * ACK_WAIT)  # deliberate: the whole process stalls

        nc = await nats.connect(nats_server.url)
        js, settings = nc.jetstream(), worker_settings(nats_server.url)
        await ensure_streams(js, settings)
        params = worker.params(settings)
        await ensure_consumer(js, "STEEM", "tester", ["steem.op.comment"], params)
        stop = asyncio.Event()

        async def handle(msg):
            return await worker.dispatch(msg, Context(settings, params, JetStreamOutlet(js)))

        consumer = Delivery(
            nc, "STEEM", "tester", Timing(ACK_WAIT), 4, HandledIds(100), stop, handle
        )
        task = asyncio.create_task(consumer.run())
        try:
            await wait_for(lambda: len(set(seen)) == 12, 30, "every message handled")
            info = await settled_consumer(nats_server.url)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            await nc.close()
        return seen, buffered, info

    seen, buffered, info = asyncio.run(scenario())
    assert buffered == [4], "the late pull's messages did not reach nats-py's buffer"
    assert seen == list(range(12))
    assert info.ack_floor.stream_seq == 12


def test_a_message_whose_ack_is_lost_is_not_handled_again_even_by_a_restarted_worker(
    procs, tmp_path, caplog
):
    """A server that drops every ack (the worker's user may not publish acks) gives the
    message out again and again. The worker handles it once and acks the repeats; so does
    the next run of the worker, after nats-server too was killed and restarted, which
    reads what the first one handled from its state folder."""
    port = free_port()

    def start_server():
        return start_server_with_users(procs, tmp_path, port, worker_may_ack=False)

    server = start_server()
    worker_url = f"nats://worker:worker@127.0.0.1:{port}"

    async def one_run(deliveries: list[int]) -> None:
        caplog.clear()
        worker, stop = Worker("tester", ack_wait=ACK_WAIT), asyncio.Event()

        @worker.on("comment")
        async def handler(op, meta):
            deliveries.append(meta.delivery)

        settings = WorkerSettings.from_env(
            {"NATS_URL": worker_url, "WORKER_STATE_DIR": str(tmp_path / "state")}
        )
        task = asyncio.create_task(worker.serve(settings, stop))
        await wait_for(
            lambda: any("came again" in r.getMessage() for r in caplog.records),
            20,
            "the message to come again",
        )
        stop.set()
        await asyncio.wait_for(task, 10)

    async def scenario():
        await publish_comments(f"nats://publisher:publisher@127.0.0.1:{port}", 1)
        first, second = [], []
        await one_run(first)
        server.kill()  # as in a crash of the whole machine's processes
        start_server()
        await one_run(second)
        return first, second

    with caplog.at_level(logging.INFO):
        first, second = asyncio.run(scenario())
    assert first == [1] and second == []
    again = [r.getMessage() for r in caplog.records if "came again" in r.getMessage()]
    assert "steem.op.comment block 1 (blk/0/0) came again after it was handled here" in again[0]
    assert (tmp_path / "state" / "tester.handled").read_text().splitlines()[1:] == ["blk/0/0"]


def test_handled_ids_remember_the_most_recent_ones():
    handled = HandledIds(3)
    for msg_id in ("a", "b", "c", "d"):
        handled.add(msg_id)
    assert "a" not in handled
    assert all(msg_id in handled for msg_id in ("b", "c", "d"))


def test_handled_ids_in_a_file_outlive_the_process_within_one_history(tmp_path):
    file = tmp_path / "state" / "bot.1.handled"
    first = HandledIds(3, file, epoch="stream A consumer B")
    for msg_id in ("a", "b", "c", "d"):
        first.add(msg_id)
    first.close()  # a killed process closes nothing; its lines are written all the same

    again = HandledIds(3, file, epoch="stream A consumer B")
    assert "a" not in again and all(msg_id in again for msg_id in ("b", "c", "d"))
    for n in range(10):  # past `size` appended lines, the file is rewritten to the last ids
        again.add(f"x{n}")
    assert len(file.read_text().splitlines()) <= 1 + 2 * 3

    recreated = HandledIds(3, file, epoch="stream A2 consumer B2")  # the stream made anew
    assert "x9" not in recreated
    assert file.read_text() == "# epoch stream A2 consumer B2\n"


def test_handled_ids_go_on_in_memory_when_the_file_cannot_be_written(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING):
        handled = HandledIds(3, blocker / "bot.handled", epoch="e")
    handled.add("a")
    assert "a" in handled
    assert "cannot keep handled message ids" in caplog.text


def unanswered(caplog) -> bool:
    return any("unanswered" in record.getMessage() for record in caplog.records)


def test_an_ack_unanswered_before_an_outage_is_confirmed_after_it(procs, tmp_path, caplog):
    """The ack goes out while NATS still looks connected and gets no answer; then NATS is
    away for longer than ack_wait. The worker keeps trying through the whole outage (the
    time it gives an answering server is counted only while connected) and the ack is
    confirmed once NATS is back, instead of given up in the middle of the outage."""
    port = free_port()
    server = start_server_with_users(procs, tmp_path, port, worker_may_ack=False)

    async def scenario() -> bool:
        await publish_comments(f"nats://publisher:publisher@127.0.0.1:{port}", 1)
        settings = WorkerSettings.from_env({"NATS_URL": f"nats://worker:worker@127.0.0.1:{port}"})
        nc = await connect(settings, "tester")
        try:
            js = nc.jetstream()
            await js.add_consumer("STEEM", ConsumerConfig(durable_name="tester", ack_wait=ACK_WAIT))
            subscription = await js.pull_subscribe_bind("tester", "STEEM")
            [msg] = await subscription.fetch(1, timeout=5)
            acking = asyncio.create_task(
                confirm_ack(msg, nc, CONFIRM_WAIT, asyncio.Event(), "the message")
            )
            # The first ack request times out unanswered while the connection is up.
            await wait_for(lambda: unanswered(caplog), 10, "an unanswered ack")
            server.kill()
            await wait_for(lambda: not nc.is_connected, 10, "the worker to notice the outage")
            await asyncio.sleep(CONFIRM_WAIT + 2)  # deliberate: an outage longer than that wait
            await asyncio.to_thread(start_server_with_users, procs, tmp_path, port, True)
            return await asyncio.wait_for(acking, 20)
        finally:
            await close(nc)

    with caplog.at_level(logging.DEBUG, logger="steem_worker.delivery"):
        confirmed = asyncio.run(scenario())
    assert confirmed, [r.getMessage() for r in caplog.records]


def test_quiet_gaps_between_messages_never_make_the_worker_leave_or_pause(nats_server, caplog):
    """Live, a worker's subject is often quiet for longer than 0.7 × ack_wait. Meanwhile
    its pulls expire, and the server's answers to them (408 notes, or a message sent just
    as a pull expires) can land in nats-py's buffer after the fetch gave up. They are as
    new as the pull that brought them: the next message is handled at once, on its first
    delivery, and the worker never leaves messages to the server or pauses."""

    async def scenario():
        worker, seen, stop = Worker("tester", ack_wait=ACK_WAIT), [], asyncio.Event()

        @worker.on("comment")
        async def handler(op, meta):
            seen.append((op["n"], meta.delivery))

        task = serving(worker, nats_server.url, stop)
        nc = await nats.connect(nats_server.url)
        try:
            js = nc.jetstream()
            await ensure_streams(js, STREAM)
            for n in range(5):
                await js.publish(
                    "steem.op.comment",
                    json.dumps({"n": n}).encode(),
                    headers={"Nats-Msg-Id": f"q/{n}"},
                )
                await wait_for(lambda n=n: len(seen) == n + 1, 5, f"message {n} handled")
                await asyncio.sleep(1.5 * ACK_WAIT)  # deliberate: the quiet gap under test
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            await nc.close()
        return seen

    with caplog.at_level(logging.INFO):
        seen = asyncio.run(scenario())
    assert seen == [(n, 1) for n in range(5)]
    leaving = [r.getMessage() for r in caplog.records if "leaving" in r.getMessage()]
    assert leaving == [], "the worker left messages while NATS was up and handlers were quick"
