"""The baselines: each library alone doing one stage of the pipeline's work.

(a) beem fetching the blocks, (b) nats-py publishing the broadcaster's messages to
JetStream, (c) nats-py consuming the comment messages from a durable pull consumer.
Each returns a `Measure`; blocks/s is always archive blocks per second, so a stage that
handles only some messages (the consumer) is comparable with the others.
"""

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import nats
from beem import Steem
from beem.blockchain import Blockchain
from beemapi.noderpc import NodeRPC
from ipc_config import STREAM_NAME, StreamSettings, stream_config
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

PUBLISH_WINDOWS = (256, 1000, 4000)  # publish_async acks outstanding at most, tried in turn
CONSUME_BATCH = 100  # messages per pull


@dataclass
class Measure:
    name: str
    blocks: int  # archive blocks covered
    ops: int  # operations (or messages) handled
    seconds: float
    note: str = ""

    @property
    def blocks_per_s(self) -> float:
        return self.blocks / self.seconds

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "blocks_per_s": round(self.blocks_per_s, 1),
            "ops_per_s": round(self.ops_per_s, 1),
        }


# --- (a) beem --------------------------------------------------------------------------


def beem_noderpc_batches(url: str, first: int, last: int, batch: int) -> Measure:
    """Raw `NodeRPC.get_block` JSON-RPC batches, as the broadcaster sends them."""
    rpc = NodeRPC([url], num_retries=0, num_retries_call=0, timeout=30)
    rpc.get_use_appbase()
    ops = 0
    started = time.perf_counter()
    for start in range(first, last + 1, batch):
        stop = min(start + batch - 1, last)
        answers = None
        for num in range(start, stop + 1):
            answers = rpc.get_block({"block_num": num}, api="block", add_to_queue=num < stop)
        answers = answers if isinstance(answers, list) else [answers]
        ops += sum(_ops_in(answer["block"]) for answer in answers)
    seconds = time.perf_counter() - started
    name = f"beem NodeRPC batches of {batch}"
    return Measure(name, last - first + 1, ops, seconds)


def beem_blocks(url: str, first: int, last: int, batch: int | None) -> Measure:
    """`Blockchain.blocks()`: beem's block objects, batched or (None) one call per block."""
    chain = Blockchain(blockchain_instance=_steem(url), mode="irreversible")
    ops = 0
    started = time.perf_counter()
    for block in chain.blocks(start=first, stop=last, max_batch_size=batch):
        ops += len(block.operations)
    seconds = time.perf_counter() - started
    name = f"beem Blockchain.blocks(max_batch_size={batch})"
    return Measure(name, last - first + 1, ops, seconds)


def beem_default_stream(url: str, first: int, last: int) -> Measure:
    """`Blockchain.stream()` with beem's defaults: one `get_block` request per block."""
    chain = Blockchain(blockchain_instance=_steem(url), mode="irreversible")
    ops = 0
    started = time.perf_counter()
    for _op in chain.stream(start=first, stop=last):
        ops += 1
    seconds = time.perf_counter() - started
    return Measure("beem Blockchain.stream() defaults", last - first + 1, ops, seconds)


def fastest_beem(url: str, first: int, last: int) -> tuple[Measure, list[Measure]]:
    """Try beem's batched settings on the same blocks; the fastest is baseline (a)."""
    tries: list[Callable[[], Measure]] = [
        lambda: beem_noderpc_batches(url, first, last, 50),
        lambda: beem_noderpc_batches(url, first, last, 100),
        lambda: beem_blocks(url, first, last, 50),
    ]
    measures = [attempt() for attempt in tries]
    return max(measures, key=lambda m: m.blocks_per_s), measures


def _steem(url: str) -> Steem:
    return Steem(node=[url], num_retries=0, num_retries_call=0, timeout=30)


def _ops_in(block: dict) -> int:
    return sum(len(trx["operations"]) for trx in block["transactions"])


# --- (b) and (c) nats-py -----------------------------------------------------------------


async def nats_publish(url: str, messages: list, blocks: int, window: int) -> Measure:
    """`publish_async` of every message into a fresh STEEM stream, waiting for all acks."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(publish_async_max_pending=window)
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(STREAM_NAME)
        await js.add_stream(stream_config(StreamSettings.from_env({})))
        started = time.perf_counter()
        futures = [
            await js.publish_async(subject, payload, headers=headers)
            for subject, payload, headers in messages
        ]
        await js.publish_async_completed()
        seconds = time.perf_counter() - started
        failed = sum(1 for f in futures if f.exception() is not None)
        stored = (await js.stream_info(STREAM_NAME)).state.messages
        if failed or stored != len(messages):
            raise RuntimeError(f"publish baseline: {failed} failed, {stored}/{len(messages)}")
    finally:
        await nc.close()
    name = f"nats-py publish_async, window {window}"
    return Measure(name, blocks, len(messages), seconds)


def fastest_publish(url: str, messages: list, blocks: int) -> tuple[Measure, list[Measure]]:
    """Try a few windows of outstanding acks; the fastest is baseline (b).

    Each try starts from an empty stream; the last one leaves the stream full for (c).
    """
    measures = [asyncio.run(nats_publish(url, messages, blocks, w)) for w in PUBLISH_WINDOWS]
    return max(measures, key=lambda m: m.blocks_per_s), measures


async def nats_consume(url: str, subject: str, expected: int, blocks: int) -> Measure:
    """A durable pull consumer taking `expected` messages in batches, acking each."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        config = ConsumerConfig(
            durable_name="baseline",
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=subject,
            max_ack_pending=CONSUME_BATCH * 10,
        )
        await js.add_consumer(STREAM_NAME, config)
        subscription = await js.pull_subscribe_bind(durable="baseline", stream=STREAM_NAME)
        received = 0
        started = time.perf_counter()
        while received < expected:
            for msg in await subscription.fetch(CONSUME_BATCH, timeout=5):
                await msg.ack()
                received += 1
        await nc.flush()
        seconds = time.perf_counter() - started
    finally:
        await nc.close()
    name = f"nats-py pull consumer, fetch {CONSUME_BATCH}, ack()"
    return Measure(name, blocks, received, seconds)


def nats_baselines(url: str, messages: list, blocks: int) -> tuple[Measure, list, Measure]:
    """(b) the fastest publish and every try, then (c) consuming the comments."""
    published, tries = fastest_publish(url, messages, blocks)
    comments = sum(1 for subject, _, _ in messages if subject == "steem.op.comment")
    consumed = asyncio.run(nats_consume(url, "steem.op.comment", comments, blocks))
    return published, tries, consumed
