"""The broadcaster: reads the chain in one thread, publishes it from the event loop.

    Steem nodes --(beem, thread)--> bounded queue --(asyncio)--> JetStream stream STEEM

The queue holds a few batches at most, so a publisher stuck on a NATS outage stops the
reader instead of letting it pile the chain up in memory.
"""

import asyncio
import logging

from ipc_config import BROADCASTER_STATUS_KEY, ChainSettings, NatsSettings, ServiceSettings
from nats.aio.client import Client
from steem_worker import Service
from steem_worker.status import StatusReporter

from broadcaster.blocks import Block
from broadcaster.chain import Stopped, Tip
from broadcaster.follow import FORK_MEMORY
from broadcaster.lease import Lease, LeaseLost, owner_name
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


class BroadcasterSettings(ServiceSettings, ChainSettings):
    """The broadcaster's settings: the chain it reads, and NATS and the stream it writes."""


async def broadcast(service: Service[BroadcasterSettings]) -> None:
    """Wait for the lease (a standby waits here), then publish the chain until stopped."""
    js, stop, status = service.js, service.stop, service.status
    lease = Lease(js, owner_name(PROCESS), replicas=service.settings.replicas)
    if not await lease.acquire(stop, lambda holder: status.set_state("standby")):
        return
    status.set_state("running")
    try:
        await _broadcast(service.nc, service.settings, service.settings, stop, lease, status)
    except LeaseLost as err:
        # Exit non-zero so that the restart loop starts us again, as the standby.
        log.error("%s is broadcasting now; stepping down", err)
        raise SystemExit(1) from None
    finally:
        await lease.release()


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
