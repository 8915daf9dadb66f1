"""The broadcaster: reads the chain in one thread, publishes it from the event loop.

    Steem nodes --(beem, thread)--> bounded queue --(asyncio)--> JetStream stream STEEM

The queue holds a few batches at most, so a publisher stuck on a NATS outage stops the
reader instead of letting it pile the chain up in memory.
"""

import asyncio
import logging

from ipc_config import BROADCASTER_STATUS_KEY, ChainSettings, NatsSettings, StreamSettings
from nats.aio.client import Client
from steem_worker.connection import close, connect_unless_stopped, ensure_stream
from steem_worker.shutdown import stop_event
from steem_worker.status import StatusReporter

from broadcaster.blocks import Block
from broadcaster.chain import Stopped, Tip
from broadcaster.follow import FORK_MEMORY
from broadcaster.lease import Lease, owner_name
from broadcaster.progress import Progress
from broadcaster.publisher import Publisher
from broadcaster.reader import ChainThread, target_of

log = logging.getLogger(__name__)

PROCESS = "broadcaster"


def position(block: Block, tip: Tip, mode: str) -> dict:
    """The broadcaster's place on the chain, as `steem-status` shows it."""
    return {
        "mode": mode,
        "block_num": block.num,
        "block_id": block.id,
        "block_timestamp": block.timestamp,
        "head": tip.head,
        "irreversible": tip.irreversible,
        "behind": max(0, target_of(tip, mode) - block.num),
    }


async def run(chain: ChainSettings, nats: NatsSettings, stream: StreamSettings) -> None:
    stop = stop_event()
    nc = await connect_unless_stopped(nats, PROCESS, stop)
    if nc is None:
        return
    try:
        js = nc.jetstream()
        if not await ensure_stream(js, stream, stop):
            return
        # Reports from the start, so that steem-status shows a standby broadcaster too.
        reporter = StatusReporter(js, PROCESS, replicas=stream.replicas, state="starting")
        reporter.start()
        try:
            lease = Lease(js, owner_name(PROCESS), replicas=stream.replicas)
            if not await lease.acquire(stop, lambda holder: reporter.set_state("standby")):
                return
            reporter.set_state("running")
            try:
                await _broadcast(nc, chain, nats, stop, lease, reporter)
            finally:
                await lease.release()
        finally:
            await reporter.stop()
    finally:
        await close(nc)
    log.info("stopped")


async def _broadcast(
    nc: Client,
    chain: ChainSettings,
    nats: NatsSettings,
    stop: asyncio.Event,
    lease: Lease,
    reporter: StatusReporter,
) -> None:
    publisher = Publisher(nc, stop)
    checkpoint = await publisher.checkpoint()
    already_stored = await publisher.stored_since(checkpoint)
    # In head mode a fork can replace the last blocks we published: remember their ids.
    depth = FORK_MEMORY if chain.mode == "head" else 1
    known_ids = await publisher.recent_block_ids(checkpoint, depth)
    log.info(
        "reading %s blocks from %s; publishing to NATS at %s",
        chain.mode, chain.safe_nodes, nats.safe_urls,
    )  # fmt: skip
    reader = ChainThread(chain, checkpoint, known_ids)
    reader.start()
    try:
        await _publish_batches(reader, publisher, already_stored, chain.mode, stop, reporter, lease)
    finally:
        reader.stop()


async def _publish_batches(
    reader: ChainThread,
    publisher: Publisher,
    already_stored: set[str],
    mode: str,
    stop: asyncio.Event,
    reporter: StatusReporter,
    lease: Lease,
) -> None:
    progress = Progress()
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            getting = asyncio.ensure_future(reader.batches.get())
            await asyncio.wait([getting, stopping], return_when=asyncio.FIRST_COMPLETED)
            if not getting.done():
                getting.cancel()
                return
            batch = getting.result()
            if isinstance(batch, BaseException):
                raise batch
            if not await lease.hold(stop):
                return
            try:
                await publisher.publish(batch, already_stored)
            except Stopped:
                return
            already_stored = set()
            target = target_of(batch.tip, mode)
            for block in batch.blocks:
                progress.block_done(block.num, len(block.operations), target)
            reporter.also_write(BROADCASTER_STATUS_KEY, position(batch.blocks[-1], batch.tip, mode))
    finally:
        stopping.cancel()
