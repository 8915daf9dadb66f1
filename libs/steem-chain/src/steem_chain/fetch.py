"""Several batch requests in flight, across nodes; the blocks handed over in order.

    fetcher = BlockFetcher(pool)
    span = fetcher.next_span(first, target)   # blocks first.. (one batch), in order

The blocks from `first` to `target` are cut into ranges, one JSON-RPC batch each, sent
ahead on daemon threads to the nodes with a free slot (each node's slots and batch size
follow its health). Answers may come back in any order; `next_span` returns only the
range that comes next, so the caller sees the chain in order and checks each range
against the block before it. A failed range is asked again, of another node first; a
range stuck on a slow node is also asked of another one (the first answer wins); nothing
is ever skipped. How far ahead we fetch is bounded (MAX_AHEAD blocks, and no more than
READY_MAX_BATCHES batches waiting for a caller that is slower than the nodes), so memory
stays flat whatever the distance to the head.

Which node gets a range: far from the target, any node but those whose last tip is below
it (tips are asked now and then, in the same slots, to learn which nodes lag); within
HEAD_MARGIN blocks of it, the node whose tip we follow, so that a new block is asked of the
node that announced it and, in head mode, two nodes on different forks do not interleave.
"""

import logging
import queue
from collections import deque
from dataclasses import dataclass, field

from ipc_config.backoff import Backoff

from steem_chain.blocks import Block
from steem_chain.node import Tip, parse_blocks
from steem_chain.pool import Node, NodePool
from steem_chain.reasons import NodeError, Stopped, classify
from steem_chain.threads import DaemonThreads

log = logging.getLogger(__name__)

MAX_AHEAD = 1_000  # blocks fetched or in flight beyond the one handed over next
READY_MAX_BATCHES = 4  # batches fetched and next in line, waiting for the caller, at most
HEAD_MARGIN = 30  # blocks this close to the target are asked of the node we follow
TIP_MAX_AGE = 10.0  # seconds before a node's tip is asked again (only while catching up)
HEDGE_AFTER = (0.5, 4.0)  # ask another node too after max(0.5 s, 4 x the node's latency)
SETTLE_AFTER = 20.0  # seconds of catching up before saying what we settled on
WAKE = 0.05  # longest sleep between two looks at stop, pauses and stuck requests
RANGE_BACKOFF = (1.0, 30.0)  # a range every node failed waits, doubling


@dataclass(frozen=True)
class Span:
    """Consecutive blocks as one node sent them."""

    blocks: list[Block]
    node: Node


@dataclass(eq=False)
class _Range:
    first: int
    last: int
    blocks: list[Block] | None = None
    node: Node | None = None  # who sent the blocks
    sent_to: list[Node] = field(default_factory=list)  # in flight there
    failed_on: set[Node] = field(default_factory=set)  # this round
    retry_at: float = 0.0  # every node failed it: not before then
    backoff: Backoff = field(default_factory=lambda: Backoff(*RANGE_BACKOFF))
    sent_at: float = 0.0
    hedged: bool = False


@dataclass(frozen=True)
class _Answer:
    generation: int
    range: _Range | None  # None: a tip
    node: Node
    blocks: list[Block] | None


class BlockFetcher:
    """Fetches ahead from every usable node and hands the blocks over in order. Used from
    one thread (the chain follower); answers arrive from the daemon threads."""

    def __init__(self, pool: NodePool, *, ahead: int = MAX_AHEAD) -> None:
        self._pool = pool
        cap = max(n.health.cap for n in pool.nodes)
        self._threads = DaemonThreads(len(pool.nodes) * cap + 2, "chain-fetch")
        self._answers: queue.SimpleQueue[_Answer] = queue.SimpleQueue()
        self._ranges: deque[_Range] = deque()
        self._next: int | None = None  # first block of the next span
        self._frontier = 0  # first block not in any range
        self._target = 0
        self._ahead = ahead
        self._generation = 0  # moves on at `discard`: late answers are then ignored
        self._tips_asked: dict[int, float] = {}
        self._far_since: float | None = None  # catching up since
        self._far_requests = 0
        self._far_blocks = 0
        self._settled = False
        self._refused_backoff = Backoff(*RANGE_BACKOFF)  # the same blocks refused again
        self._refused_upto = -1

    def next_span(self, first: int, target: int) -> Span:
        """The blocks from `first` on, as one node sent them (at most one batch), once they
        are here; fetches ahead up to `target`. Raises Stopped."""
        if first != self._next:
            self.discard(first)
        self._target = target
        while True:
            if self._pool.stop.is_set():
                raise Stopped
            head = self._ranges[0] if self._ranges else None
            if head is not None and head.blocks is not None and head.node is not None:
                self._ranges.popleft()
                self._next = head.last + 1
                if head.first > self._refused_upto:
                    self._refused_backoff.reset()
                if self._far_since is not None:
                    self._far_blocks += len(head.blocks)
                self._fill()
                self._maybe_settle()
                return Span(head.blocks, head.node)
            self._fill()
            self._wait()

    @property
    def ahead(self) -> int:
        """Blocks fetched or asked for beyond those handed over: what memory holds."""
        return 0 if self._next is None else self._frontier - self._next

    def discard(self, first: int) -> None:
        """Forget what was fetched ahead (after a broken chain or a fork): start at `first`."""
        self._generation += 1
        self._ranges.clear()
        self._next = self._frontier = first

    # -- sending -----------------------------------------------------------------------

    def _fill(self) -> None:
        now = self._pool.clock()
        i = 0
        while i < len(self._ranges):  # ranges to ask again first, in chain order
            r = self._ranges[i]
            waiting = r.blocks is None and not r.sent_to
            if waiting and (now < r.retry_at or not self._send(r, i, now)):
                break
            i += 1
        self._hedge(now)
        while (
            self._frontier <= self._target
            and self._frontier - self._next < self._window(now)
            and self._ready() < READY_MAX_BATCHES * self._pool.max_batch
        ):
            r = _Range(self._frontier, min(self._target, self._frontier + self._pool.max_batch - 1))
            self._ranges.append(r)
            if not self._send(r, len(self._ranges) - 1, now):
                self._ranges.pop()
                break
            self._frontier = r.last + 1
        self._ask_tips(now)

    def _send(self, r: _Range, index: int, now: float, hedge: bool = False) -> bool:
        near = r.last > self._target - HEAD_MARGIN
        eligible = self._eligible(r, near, now)
        primary = self._pool.primary

        def choose(free: list[Node], _: float) -> Node | None:
            if hedge:
                return next((n for n in eligible if n in free and n not in r.sent_to), None)
            if near and eligible and eligible[0] is primary:
                return primary if primary in free else None
            return next((n for n in eligible if n in free), None)

        node = self._pool.claim(choose)
        if node is None:
            return False
        if not hedge and r.last - r.first + 1 > node.health.batch:  # this node takes less
            if r.last < self._frontier:  # a range asked again: the rest waits its turn
                rest = _Range(r.first + node.health.batch, r.last, failed_on=set(r.failed_on))
                self._ranges.insert(index + 1, rest)
            r.last = r.first + node.health.batch - 1
        r.sent_to.append(node)
        r.sent_at = now
        r.hedged = r.hedged or hedge
        if not near:
            self._far_requests += 1
            self._far_since = now if self._far_since is None else self._far_since
        self._threads.submit(self._fetch, self._generation, r, node, r.first, r.last, now)
        return True

    def _eligible(self, r: _Range, near: bool, now: float) -> list[Node]:
        """Who may be asked for range r, preferred first."""
        mode = self._pool.mode
        # In the order of STEEM_NODES: a node that failed lately already has fewer slots.
        ranked = sorted(self._pool.ranked(now), key=lambda n: n.index)
        primary = self._pool.primary
        if near and primary in ranked:
            ranked = [primary] + [n for n in ranked if n is not primary]
        covering = [  # far from the head, a node that never told us its tip likely has it
            n
            for n in ranked
            if n.health.covers(r.last, mode)
            or (near and n is primary)
            or (not near and n.health.tip is None)
        ]
        if near and covering and covering[0] is primary and primary not in r.failed_on:
            return [primary]
        good = [n for n in covering if n not in r.failed_on]
        others = [n for n in ranked if n not in r.failed_on]  # as failover does: ask anyway
        return good or others or covering or ranked

    def _hedge(self, now: float) -> None:
        """The next range has waited far longer than its node usually takes: ask another."""
        head = self._ranges[0] if self._ranges else None
        if head is None or head.blocks is not None or head.hedged or len(head.sent_to) != 1:
            return
        health = head.sent_to[0].health
        known = [n.health.latency for n in self._pool.nodes if n.health.latency is not None]
        usual = health.latency or min(known, default=health.timeout / 4)
        if now - head.sent_at > max(HEDGE_AFTER[0], HEDGE_AFTER[1] * usual):
            self._send(head, 0, now, hedge=True)

    def _window(self, now: float) -> int:
        usable = self._pool.ranked(now)
        room = sum(n.health.allowed(now) * n.health.batch for n in usable)
        # Twice what may be in flight: answers that overtook a slower one wait their turn.
        return min(self._ahead, self._pool.max_batch + 2 * room)

    def _ready(self) -> int:
        """Blocks here and next in line: when they pile up, the caller is what is slow,
        and fetching further ahead would only take memory."""
        ready = 0
        for r in self._ranges:
            if r.blocks is None:
                break
            ready += len(r.blocks)
        return ready

    def _ask_tips(self, now: float) -> None:
        """While far from the target, learn which nodes have those blocks."""
        if self._frontier > self._target - HEAD_MARGIN:
            return

        def stale(node: Node) -> bool:
            asked = self._tips_asked.get(node.index, -TIP_MAX_AGE)
            return not node.health.covers(self._frontier, self._pool.mode) and (
                now - max(asked, node.health.tip_at) >= TIP_MAX_AGE
            )

        while (
            node := self._pool.claim(lambda free, _: next(filter(stale, free), None))
        ) is not None:
            self._tips_asked[node.index] = now
            self._threads.submit(self._fetch_tip, node)

    # -- answers -----------------------------------------------------------------------

    def _fetch(
        self, generation: int, r: _Range, node: Node, first: int, last: int, asked_at: float
    ) -> None:
        self._answers.put(
            _Answer(generation, r, node, self._blocks_of(node, first, last, asked_at))
        )

    def _blocks_of(self, node: Node, first: int, last: int, asked_at: float) -> list[Block] | None:
        """The blocks from `node`, with their extras; None when it failed (it is told)."""
        client = node.client
        try:
            answers = client.raw_blocks(first, last)
            round_trip = client.round_trip()  # of the blocks: what the node's pace is
            blocks = parse_blocks(first, answers, client.extras.virtual_ops)
            blocks = client.comment_states(blocks)  # one more request, when asked for
        except NodeError as err:
            self._pool.failed(node, err)
            return None
        except Exception as err:  # a surprise: another node's turn all the same
            self._pool.failed(node, classify(err, client.timeout))
            return None
        self._pool.succeeded(node, round_trip, last - first + 1, asked_at)
        return blocks

    def _fetch_tip(self, node: Node) -> None:
        try:
            tip: Tip = node.client.tip()
        except Exception as err:
            self._pool.failed(node, classify(err, node.client.timeout))
        else:
            self._pool.saw_tip(node, tip)
            self._pool.succeeded(node)
        self._answers.put(_Answer(-1, None, node, None))

    def _wait(self) -> None:
        try:
            answer = self._answers.get(timeout=WAKE)
        except queue.Empty:
            return
        while True:
            self._take(answer)
            try:
                answer = self._answers.get_nowait()
            except queue.Empty:
                return

    def _take(self, answer: _Answer) -> None:
        r = answer.range
        if r is None or answer.generation != self._generation:
            return
        if answer.node in r.sent_to:
            r.sent_to.remove(answer.node)
        if r.blocks is not None:
            return  # another node answered first
        if answer.blocks is not None:
            r.blocks, r.node = answer.blocks, answer.node
        else:
            self._failed(r, answer.node)

    def _failed(self, r: _Range, node: Node) -> None:
        """Another node's turn; once every node failed it, a pause (unless the pool is
        already pausing every node: then its rounds set the pace)."""
        r.failed_on.add(node)
        now = self._pool.clock()
        if all(n in r.failed_on for n in self._pool.ranked(now)):
            r.failed_on.clear()
            if not self._pool.in_outage:
                r.retry_at = now + r.backoff.next()

    def refuse(self, span: Span, err: NodeError, logged: bool = False) -> None:
        """The caller found that `span` does not link: its node is blamed and the same
        blocks are asked again, of another node first."""
        self._pool.failed(span.node, err, held=False, logged=logged)
        again = _Range(span.blocks[0].num, span.blocks[-1].num, backoff=self._refused_backoff)
        self._ranges.appendleft(again)
        self._refused_upto = again.last
        self._failed(again, span.node)
        self._next = again.first  # what was fetched after it stays: checked in its turn

    def _maybe_settle(self) -> None:
        """Say once what the depth and batch sizes came to, while catching up."""
        if self._settled or self._far_since is None:
            return
        now = self._pool.clock()
        done = self._next is not None and self._next > self._target
        if (done and self._far_requests >= 4) or now - self._far_since >= SETTLE_AFTER:
            self._settled = True
            rate = self._far_blocks / max(now - self._far_since, 1e-3)
            log.info("settled on, to catch up at %.0f blocks/s: %s", rate, self._pool.summary())
