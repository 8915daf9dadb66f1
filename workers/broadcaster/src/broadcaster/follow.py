"""Following the chain: which blocks to ask for next, and when.

Runs in its own thread (beem is synchronous) and hands batches of consecutive blocks to
`emit`, which blocks while the publisher is behind: so when NATS is down, we stop
reading the chain instead of buffering it in memory.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from broadcaster.blocks import Block
from broadcaster.chain import ChainReader, NodeError, Tip

log = logging.getLogger(__name__)

BLOCK_INTERVAL = 3.0  # seconds between Steem blocks
POLL_INTERVAL = 0.1  # how often we ask for the tip around the time a block is due
POLL_EARLY = 0.3  # start asking this long before the next block is due
BROKEN_NODE_PAUSE = 1.0  # before asking again after a node sent a broken chain
REPEAT_WARNING_AFTER = 30.0  # a condition that lasts is logged again this often


@dataclass(frozen=True)
class Batch:
    blocks: list[Block]
    tip: Tip


class TipPacer:
    """Decides how long to wait before asking for the tip again, once we are caught up.

    beem's own stream sleeps a whole block interval between polls, which adds up to 3 s
    of latency. We note when the tip last moved and poll briskly only when the next
    block is due, so a new block is seen within about POLL_INTERVAL of its arrival.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_target: int | None = None
        self._moved_at: float | None = None

    def seen(self, target: int) -> None:
        if self._last_target is not None and target > self._last_target:
            self._moved_at = self._clock()
        self._last_target = target

    def delay(self) -> float:
        if self._moved_at is None:
            return POLL_INTERVAL
        due = self._moved_at + BLOCK_INTERVAL - POLL_EARLY
        return max(POLL_INTERVAL, due - self._clock())


def follow(
    reader: ChainReader,
    mode: str,
    next_num: int,
    previous_id: str | None,
    batch_size: int,
    emit: Callable[[Batch], None],
    stop: threading.Event,
) -> None:
    """Emit every block from `next_num` on, in order, linked, until `stop` is set.

    `previous_id` is the id of block `next_num - 1` when known (after a resume): each
    block must name its predecessor's id as `previous`, or the node is not on our chain.
    """
    pacer = TipPacer()
    behind_logged_at = -REPEAT_WARNING_AFTER
    tip = reader.tip()
    while not stop.is_set():
        target = tip.irreversible if mode == "irreversible" else tip.head
        pacer.seen(target)
        if target < next_num - 1:
            # This node is behind our checkpoint; prefer the next one.
            if time.monotonic() - behind_logged_at >= REPEAT_WARNING_AFTER:
                behind_logged_at = time.monotonic()
                log.warning(
                    "node %s is behind: its %s block is %d, we are at %d",
                    reader.node.name, mode, target, next_num - 1,
                )  # fmt: skip
            reader.rotate()
        if target < next_num:
            if stop.wait(pacer.delay()):
                return
            tip = reader.tip()
            continue
        last = min(next_num + batch_size - 1, target)
        blocks = reader.blocks(next_num, last)
        try:
            check_links(blocks, previous_id)
        except NodeError as err:
            log.warning("node %s sent a broken chain: %s", reader.node.name, err)
            reader.node.reset()
            reader.rotate()
            if stop.wait(BROKEN_NODE_PAUSE):
                return
            continue
        emit(Batch(blocks, tip))
        next_num = last + 1
        previous_id = blocks[-1].id
        if next_num > target:
            tip = reader.tip()


def check_links(blocks: list[Block], previous_id: str | None) -> None:
    """Each block must follow the one before it (by id, not only by number)."""
    for block in blocks:
        if previous_id is not None and block.previous != previous_id:
            raise NodeError(
                f"block {block.num} follows {block.previous}, but block {block.num - 1} is {previous_id}"
            )
        previous_id = block.id
