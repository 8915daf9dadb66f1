"""Following the chain: which blocks to ask for next, and when.

Runs in its own thread (beem is synchronous) and hands batches of consecutive blocks to
`emit`, which blocks while the publisher is behind: so when NATS is down, we stop
reading the chain instead of buffering it in memory. The blocks come from
`steem_chain`'s fetcher, which keeps several requests in flight across the nodes while
catching up and hands them over in order; here each one is checked against the block
before it.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ipc_config.chain import BLOCK_INTERVAL
from steem_chain import Block, BlockFetcher, ChainReader, NodeError, NodePool, Span, Tip

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.1  # how often we ask for the tip around the time a block is due
POLL_EARLY = 0.3  # start asking this long before the next block is due
REPEAT_WARNING_AFTER = 30.0  # a condition that lasts is logged again this often
STUCK_AFTER = 4 * BLOCK_INTERVAL  # no new block for this long: the node may have stalled
LEAVE_FOR = 10 * BLOCK_INTERVAL  # a node behind or stuck is asked last for this long


@dataclass(frozen=True)
class Fork:
    """In head mode: blocks we published were replaced by another branch."""

    fork_point: tuple[int, str]  # the last block both branches share
    abandoned: list[tuple[int, str]]  # (number, id) of what we published and the chain dropped
    new_branch: list[tuple[int, str]]  # (number, id) of what replaces them, published next


@dataclass(frozen=True)
class Batch:
    blocks: list[Block]
    tip: Tip
    fork: Fork | None = None  # published before the blocks


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


FORK_MEMORY = 64  # ids of the last blocks we published, to find a fork point


class ChainSource:
    """What the Follower asks of the nodes: steem_chain's reads, fetcher and pool."""

    def __init__(self, pool: NodePool) -> None:
        self.pool = pool
        self._reader = ChainReader(pool)
        self._fetcher = BlockFetcher(pool)

    @property
    def node_name(self) -> str:
        """The node whose tip we follow."""
        return self.pool.primary.name

    @property
    def several_nodes(self) -> bool:
        return len(self.pool.nodes) > 1

    def tip(self) -> Tip:
        return self._reader.tip()

    def blocks(self, first: int, last: int) -> list[Block]:
        return self._reader.blocks(first, last)

    def next_span(self, first: int, target: int) -> Span:
        return self._fetcher.next_span(first, target)

    def refuse(self, span: Span, err: NodeError) -> None:
        self._fetcher.refuse(span, err, logged=True)

    def leave_node(self) -> None:
        """Ask the other nodes first for a while: the one we follow is behind or stuck."""
        self.pool.demote(self.pool.primary, LEAVE_FOR)


class Follower:
    """Emits every block from `next_num` on, in order and linked, until `stop` is set.

    Each block must name its predecessor's id as `previous`. In irreversible mode a block
    that does not is a node's fault: we ask another node. In head mode it may be a fork:
    we walk back to the last block both branches share, emit a `Fork` naming the blocks
    we published that the chain dropped, and carry on along the new branch.
    """

    def __init__(
        self,
        chain: ChainSource,
        mode: str,
        next_num: int,
        known_ids: dict[int, str],
        emit: Callable[[Batch], None],
        stop: threading.Event,
    ) -> None:
        self._chain = chain
        self._mode = mode
        self._next = next_num
        self._known = dict(known_ids)  # block number -> id of what we published
        self._emit = emit
        self._stop = stop
        self._pacer = TipPacer()
        self._behind_logged_at = -REPEAT_WARNING_AFTER
        self._last_target = -1
        self._moved_at = time.monotonic()

    def run(self) -> None:
        tip = self._chain.tip()
        while not self._stop.is_set():
            target = tip.target(self._mode)
            self._pacer.seen(target)
            if target < self._next - 1:
                self._node_is_behind(target)
            self._check_stalled(target)
            if target < self._next:
                if self._stop.wait(self._pacer.delay()):
                    return
                tip = self._chain.tip()
                continue
            span = self._chain.next_span(self._next, target)
            try:
                blocks, fork = self._link(span.blocks)
            except NodeError as err:
                log.warning("node %s sent a broken chain: %s", span.node.name, err)
                self._chain.refuse(span, NodeError(f"sent a broken chain: {err}"))
                continue
            self._emit(Batch(blocks, tip, fork))
            self._remember(blocks)
            if self._next > target:
                tip = self._chain.tip()

    def _link(self, blocks: list[Block]) -> tuple[list[Block], Fork | None]:
        """Check that `blocks` follow what we published; if not, prepend the new branch."""
        check_links(blocks, None)  # within one answer, a break is the node's fault
        previous_id = self._known.get(self._next - 1)
        if previous_id is None or blocks[0].previous == previous_id:
            return blocks, None
        if self._mode == "irreversible":
            check_links(blocks, previous_id)  # raises: irreversible blocks never change
        branch, fork = self._find_fork(blocks)
        return branch + blocks, fork

    def _find_fork(self, blocks: list[Block]) -> tuple[list[Block], Fork]:
        """Fetch the new branch backwards until it meets a block we published."""
        branch: list[Block] = []
        num = self._next - 1
        while True:
            if num not in self._known:
                raise NodeError(
                    f"block {self._next} does not follow block {self._next - 1} that we "
                    f"published, and no block we remember is on its branch"
                )
            (block,) = self._chain.blocks(num, num)
            if block.id == self._known[num]:
                break
            branch.insert(0, block)
            num -= 1
        check_links(branch + blocks, self._known[num])
        fork = Fork(
            fork_point=(num, self._known[num]),
            abandoned=[(n, self._known[n]) for n in range(num + 1, self._next)],
            new_branch=[(b.num, b.id) for b in branch],
        )
        log.warning(
            "fork: blocks %d..%d were replaced by another branch; publishing the new one",
            num + 1, self._next - 1,
        )  # fmt: skip
        return branch, fork

    def _remember(self, blocks: list[Block]) -> None:
        for block in blocks:
            self._known[block.num] = block.id
        self._next = blocks[-1].num + 1
        for num in [n for n in self._known if n < self._next - FORK_MEMORY]:
            del self._known[num]

    def _check_stalled(self, target: int) -> None:
        """A node that stopped syncing at our position looks just like a quiet chain;
        after a few block intervals without a new block, ask the other nodes first."""
        now = time.monotonic()
        if target > self._last_target:
            self._last_target, self._moved_at = target, now
        elif now - self._moved_at > STUCK_AFTER and self._chain.several_nodes:
            log.warning(
                "node %s has had no new %s block for %.0f s (stuck at %d); asking the next node",
                self._chain.node_name, self._mode, now - self._moved_at, target,
            )  # fmt: skip
            self._chain.leave_node()
            self._moved_at = now

    def _node_is_behind(self, target: int) -> None:
        if time.monotonic() - self._behind_logged_at >= REPEAT_WARNING_AFTER:
            self._behind_logged_at = time.monotonic()
            log.warning(
                "node %s is behind: its %s block is %d, we are at %d",
                self._chain.node_name, self._mode, target, self._next - 1,
            )  # fmt: skip
        self._chain.leave_node()


def check_links(blocks: list[Block], previous_id: str | None) -> None:
    """Each block must follow the one before it (by id, not only by number)."""
    for block in blocks:
        if previous_id is not None and block.previous != previous_id:
            raise NodeError(
                f"block {block.num} follows {block.previous}, but block {block.num - 1} is {previous_id}"
            )
        previous_id = block.id
