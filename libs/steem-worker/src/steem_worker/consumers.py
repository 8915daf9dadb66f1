"""The durable consumers a worker reads through, one per stream it needs, run together.

    plan = consumer_plan("bot", ["steem.op.comment"])
    # [("STEEM", ["steem.op.comment"]), ("STEEM_DEAD", ["steem.replay.bot"])]
    await run_consumers(service, "bot", plan, params, handle)

Each consumer is named after the worker: on STEEM for the chain's subjects, on STEEM_DEAD
for its replayed dead letters, on STEEM_TX for the outcomes of the actions it asked for
(only if it has handlers for them). One delivery engine per consumer; the handler is
called for one message at a time, whichever consumer it came from.
"""

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ipc_config import (
    DEAD_STREAM_NAME,
    STATUS_INTERVAL,
    STREAM_NAME,
    TX_STREAM_NAME,
    WorkerSettings,
    replay_subject,
)
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy

from steem_worker.connection import when_answered
from steem_worker.delivery import Delivery, Timing, Verdict
from steem_worker.handled_ids import HandledIds
from steem_worker.retention import RetentionWatch
from steem_worker.service import Service

log = logging.getLogger(__name__)

HANDLED_MEMORY = 10_000  # ids of handled messages remembered, in memory and on disk
_TX_PREFIX = "steem.tx."


@dataclass(frozen=True)
class DeliveryParams:
    """How the worker takes messages: its code's values, or the WORKER_* settings."""

    batch_size: int
    ack_wait: float
    max_deliver: int
    retry_delay: float
    once_per_operation: bool = True  # an operation a fork re-includes is not handled again


def consumer_plan(worker: str, subjects: list[str]) -> list[tuple[str, list[str]]]:
    """(stream, subjects) of each consumer the worker needs, STEEM first if any."""
    chain = [s for s in subjects if not s.startswith(_TX_PREFIX)]
    outcomes = [s for s in subjects if s.startswith(_TX_PREFIX)]
    plan = [(STREAM_NAME, chain)] if chain else []
    plan.append((DEAD_STREAM_NAME, [replay_subject(worker)]))
    if outcomes:
        plan.append((TX_STREAM_NAME, outcomes))
    return plan


async def ensure_consumer(
    js: JetStreamContext, stream: str, worker: str, subjects: list[str], params: DeliveryParams
) -> ConsumerInfo:
    config = ConsumerConfig(
        durable_name=worker,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=params.ack_wait,
        max_ack_pending=params.batch_size * 10,
        filter_subject=subjects[0] if len(subjects) == 1 else None,
        filter_subjects=subjects if len(subjects) > 1 else None,
    )
    await js.add_consumer(stream, config)
    # Asked again, not taken from add_consumer's answer: after a nats-server restart, that
    # answer carries a new creation time for the same consumer, and the handled-ids file
    # keyed by it would be thrown away on every restart.
    return await js.consumer_info(stream, worker)


def handled_ids(settings: WorkerSettings, worker: str, consumer: ConsumerInfo) -> HandledIds:
    # A consumer made anew (a new stream has new consumers) starts a new history.
    epoch = f"consumer {consumer.created}"
    # One file per copy (bot.1, bot.2 under honcho), the same across its restarts.
    instance = os.environ.get("HONCHO_PROCESS_NAME") or worker
    return HandledIds(HANDLED_MEMORY, settings.state_dir / f"{instance}.handled", epoch)


async def run_consumers(
    service: Service,
    worker: str,
    plan: list[tuple[str, list[str]]],
    params: DeliveryParams,
    handle: Callable[[Msg], Awaitable[Verdict]],
) -> None:
    """Read every consumer of `plan` until the service stops."""
    js, stop = service.js, service.stop

    async def ensure_all() -> list[ConsumerInfo]:
        return [await ensure_consumer(js, s, worker, subjects, params) for s, subjects in plan]

    # A cluster electing a leader does not answer for a few seconds: wait, do not crash.
    infos = await when_answered(ensure_all, stop, "about the worker's consumers")
    if infos is None:
        return
    log.info(
        "consuming %s as durable consumer %r", ", ".join(s for _, ss in plan for s in ss), worker
    )
    handled = handled_ids(service.settings, worker, infos[0])
    watch = None
    if plan[0][0] == STREAM_NAME:
        replicas, status = service.settings.replicas, service.status
        watch = await when_answered(
            lambda: RetentionWatch.start(js, worker, infos[0], replicas, status),
            stop,
            "about the worker's position",
        )
        if watch is None:
            return
    lock = asyncio.Lock()  # one message at a time, whichever consumer it came from

    async def one_at_a_time(msg: Msg) -> Verdict:
        async with lock:
            return await handle(msg)

    timing = Timing(params.ack_wait)
    deliveries = [
        Delivery(service.nc, stream, worker, timing, params.batch_size, handled, service.stop,
                 one_at_a_time, watch.fetched if watch and stream == STREAM_NAME else None,
                 params.once_per_operation)
        for stream, _ in plan
    ]  # fmt: skip
    checking = None
    if watch is not None:
        checking = asyncio.ensure_future(_every(STATUS_INTERVAL, watch.check, service.stop))
    try:
        await asyncio.gather(*(delivery.run() for delivery in deliveries))
    finally:
        if checking is not None:
            checking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checking
        handled.close()


async def _every(
    seconds: float, action: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> None:
    """`action()` now, then every `seconds`, until `stop` is set."""
    while not stop.is_set():
        await action()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
