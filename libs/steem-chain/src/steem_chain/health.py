"""How much to ask of one node: requests in flight and blocks per request, adapted to what
the node shows us, like TCP adapts its window.

- In flight: starts at 2 and grows by one per answer while the node keeps up (doubling
  each round trip); halves on a failure, after which it doubles again up to half what it
  was, then grows by one per round trip; never above the cap (NODE_MAX_IN_FLIGHT). It
  grows only when we actually used it all, so a node is never granted more than we
  needed; and it shrinks when the node's round trip climbs above twice its best (plus
  0.1 s): it is queueing our requests, more would only wait there.
- Blocks per request: FETCH_BATCH_SIZE, halved after a timeout or when a batch takes more
  than half the timeout, grown back by a fifth when batches are quick again.
- HTTP 429 or 503: one request at a time for a while (5 s, doubling to 2 min while it
  goes on); none at all for what Retry-After asks or, from the second 429/503 in a row,
  for 0.25 s doubling to 60 s.
- Unreachable (connection refused, no such host): left alone for 1 s, doubling to 30 s.
- Any failure puts the node behind the others for a while (1 s, doubling to 30 s), for
  the reads that go to one node at a time (the tip, a post).
"""

import math
from dataclasses import dataclass, field

from ipc_config.backoff import Backoff

from steem_chain.node import Tip
from steem_chain.reasons import NodeError, Trouble

START_IN_FLIGHT = 2
QUEUEING_FACTOR, QUEUEING_MARGIN = 2.0, 0.1  # latency above 2 x best + 0.1 s: queueing
SMOOTHING = 0.2  # weight of the newest latency in the running average
DEMOTE_MAX = 30.0
RETRY_AFTER_MAX = 120.0


@dataclass
class Health:
    cap: int  # requests in flight, at most
    max_batch: int  # blocks per request, at most
    timeout: float
    limit: float = 0.0
    batch: int = 0
    in_flight: int = 0
    threshold: float = math.inf  # doubling below it, one more per round trip above (ssthresh)
    latency: float | None = None  # running average of a block batch's round trip, seconds
    best: float | None = None
    failures: int = 0  # in a row
    throttled_last: bool = False  # the last answer was a 429 or 503
    paused_until: float = 0.0
    asked_until: float = 0.0  # what the node's Retry-After asked for
    demoted_until: float = 0.0
    cooling_until: float = 0.0
    tip: Tip | None = None
    tip_at: float = -math.inf
    full_at: float = -math.inf  # when every slot was last in use
    requests: int = 0
    blocks: int = 0
    _cooldown: Backoff = field(default_factory=lambda: Backoff(5.0, 120.0))
    _down: Backoff = field(default_factory=lambda: Backoff(1.0, 30.0))
    _throttled: Backoff = field(default_factory=lambda: Backoff(0.25, 60.0))

    def __post_init__(self) -> None:
        self.limit = float(min(START_IN_FLIGHT, self.cap))
        self.batch = self.max_batch

    def allowed(self, now: float) -> int:
        """Requests this node may have in flight now."""
        if now < self.cooling_until:
            return 1
        return max(1, min(self.cap, int(self.limit)))

    def paused(self, now: float) -> bool:
        return now < self.paused_until

    def free(self, now: float) -> bool:
        return not self.paused(now) and self.in_flight < self.allowed(now)

    def rank(self, now: float) -> tuple[bool, bool]:
        """Nodes that failed lately, then those asking for fewer requests, come last."""
        return now < self.demoted_until, now < self.cooling_until

    def started(self, now: float) -> None:
        self.in_flight += 1
        self.requests += 1
        if self.in_flight >= self.allowed(now):
            self.full_at = now

    def succeeded(
        self,
        now: float,
        latency: float | None = None,
        blocks: int = 0,
        asked_at: float | None = None,
    ) -> None:
        """An answer; for a batch of blocks, its `latency` (the HTTP round trip), `blocks`
        and when it was `asked_at` (when its slot was taken) teach us the node's pace."""
        self.in_flight -= 1
        self.failures = 0
        self.throttled_last = False
        self._down.reset()
        self._throttled.reset()
        if self.cooling_until and now >= self.cooling_until:
            self.cooling_until = 0.0
            self._cooldown.reset()
        if latency is None:
            return
        self.blocks += blocks
        # An answer to a request during whose flight every slot was in use grows them (like
        # TCP's slow start: doubling each round trip); when slots stayed unused, the node is
        # not what holds us back.
        saturated = asked_at is not None and self.full_at >= asked_at
        if blocks >= max(1, self.batch // 2):  # near the head, single blocks say little
            self.latency = latency if self.latency is None else (
                SMOOTHING * latency + (1 - SMOOTHING) * self.latency
            )  # fmt: skip
            self.best = latency if self.best is None else min(self.best, latency)
        if self.queueing():
            self.limit = max(1.0, self.limit - 1 / self.limit)
            self.threshold = self.limit
        elif saturated:
            self.limit = min(
                float(self.cap), self.limit + (1 if self.limit < self.threshold else 1 / self.limit)
            )
        if blocks >= self.batch and latency > self.timeout / 2:
            self.batch = max(1, self.batch // 2)
        elif blocks >= self.batch and latency < self.timeout / 4 and self.batch < self.max_batch:
            self.batch = min(self.max_batch, self.batch + max(1, self.max_batch // 5))

    def queueing(self) -> bool:
        if self.latency is None or self.best is None:
            return False
        return self.latency > QUEUEING_FACTOR * self.best + QUEUEING_MARGIN

    def failed(self, now: float, err: NodeError, held: bool = True) -> None:
        self.in_flight -= held
        if err.trouble is Trouble.REFUSED:  # our request was wrong, not the node
            return
        throttled_before, self.throttled_last = (
            self.throttled_last,
            err.trouble is Trouble.THROTTLED,
        )
        self.failures += 1
        self.threshold = max(float(START_IN_FLIGHT), self.limit / 2)  # doubling up to half
        self.limit = max(1.0, self.limit / 2)
        self.demoted_until = now + min(2.0 ** (self.failures - 1), DEMOTE_MAX)
        if err.trouble is Trouble.DOWN:
            self.limit = 1.0
            self.paused_until = now + self._down.next()
        elif err.trouble is Trouble.THROTTLED:
            self.limit = 1.0
            # One 429 or 503 among answers is a hint; several in a row, an order.
            backoff = self._throttled.next() if throttled_before else 0.0
            pause = min(err.retry_after, RETRY_AFTER_MAX) or backoff
            self.paused_until = now + pause
            self.asked_until = now + min(err.retry_after, RETRY_AFTER_MAX)
            self.cooling_until = now + pause + self._cooldown.next()
        elif err.trouble is Trouble.SLOW:
            self.batch = max(1, self.batch // 2)

    def saw_tip(self, now: float, tip: Tip) -> None:
        self.tip, self.tip_at = tip, now

    def covers(self, last: int, mode: str) -> bool:
        """This node said it has block `last` (as of its last tip)."""
        return self.tip is not None and self.tip.target(mode) >= last

    def summary(self, now: float) -> str:
        latency = "-" if self.latency is None else f"{self.latency:.2f} s"
        return (
            f"{self.allowed(now)} x {self.batch} blocks in flight, {latency} per request, "
            f"{self.blocks:,} blocks"
        )
