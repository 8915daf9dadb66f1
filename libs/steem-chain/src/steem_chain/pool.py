"""The configured nodes, how each one is doing, who is asked next, and what the log says.

Nodes are preferred in the order of STEEM_NODES, except that one that failed lately, or
that asked us to slow down (429/503), goes to the back of the line for a while
(`health`). Each failure is one log line naming the node and the reason (the same
failure of the same node within 2 s, as requests in flight together fail together,
once). When every node has failed in a row, the pool pauses them all (1 s, doubling to
30 s) and says so once, with the hint to the offline mode; while that lasts, each round
of failures is one line, not one per node, so that a start without internet stays
readable; the first answer ends it, in one line.
"""

import logging
import math
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from ipc_config.backoff import Backoff
from ipc_config.settings import ChainSettings

from steem_chain.health import Health
from steem_chain.node import PLAIN, Extras, NodeClient, Tip
from steem_chain.reasons import NodeError, Stopped, Trouble

log = logging.getLogger(__name__)

OFFLINE_HINT = (
    "No internet? Run offline against the bundled replay node: "
    "uv run honcho -f Procfile.replay start"
)
ROUND_BACKOFF = (1.0, 30.0)
# The settings' defaults (NODE_MAX_IN_FLIGHT, FETCH_BATCH_SIZE), for callers without settings.
DEFAULT_MAX_IN_FLIGHT: int = ChainSettings.model_fields["max_in_flight"].default
DEFAULT_BATCH_SIZE: int = ChainSettings.model_fields["fetch_batch_size"].default
SAME_FAILURE_QUIET = 2.0  # seconds during which a node's same failure is not said again


@dataclass(eq=False)
class Node:
    index: int
    client: NodeClient
    health: Health

    @property
    def name(self) -> str:
        return self.client.name


@dataclass
class _Outage:
    started: float
    rounds: int = 1
    reasons: dict[int, str] = field(default_factory=dict)  # node index -> this round's reason


class NodePool:
    """Shared by every thread that reads the chain; all state changes under one lock."""

    def __init__(
        self,
        urls: Collection[str],
        timeout: float,
        stop: threading.Event | None = None,
        *,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        batch_size: int = DEFAULT_BATCH_SIZE,
        mode: str = "irreversible",
        clock: Callable[[], float] = time.monotonic,
        round_backoff: tuple[float, float] = ROUND_BACKOFF,
        extras: Extras = PLAIN,
    ) -> None:
        if not urls:
            raise ValueError("no Steem nodes configured")
        self.nodes = [
            Node(i, NodeClient(url, timeout, max_in_flight + 1, extras), Health(max_in_flight, batch_size, timeout))
            for i, url in enumerate(urls)
        ]  # fmt: skip
        self.stop = stop or threading.Event()
        self.mode = mode
        self.max_batch = batch_size
        self.clock = clock
        self.primary = self.nodes[0]  # the node whose tip we follow
        self._cond = threading.Condition()
        self._trouble: set[int] = set()  # nodes whose last answer was a failure
        self._outage: _Outage | None = None
        self._backoff = Backoff(*round_backoff)
        self._said: dict[int, tuple[str, float]] = {}  # node index -> last failure logged

    # -- choosing a node -------------------------------------------------------------

    def ranked(self, now: float) -> list[Node]:
        """Nodes that may be asked now (not paused), the preferred first."""
        usable = [n for n in self.nodes if not n.health.paused(now)]
        return sorted(usable, key=lambda n: (n.health.rank(now), n.index))

    def claim(self, choose: Callable[[list[Node], float], Node | None]) -> Node | None:
        """`choose` among the nodes with a free slot (preferred first); the chosen node's
        slot is taken until `succeeded` or `failed`. Does not wait."""
        with self._cond:
            now = self.clock()
            node = choose([n for n in self.ranked(now) if n.health.free(now)], now)
            if node is not None:
                node.health.started(now)
            return node

    def take(
        self, avoid: Collection[Node] = (), stop: threading.Event | None = None
    ) -> Node | None:
        """The preferred node with a free slot, not in `avoid`; waits for a slot or for a
        paused node to come back. None when every node that may be asked is in `avoid`."""
        with self._cond:
            while True:
                if self.stop.is_set() or (stop is not None and stop.is_set()):
                    raise Stopped
                now = self.clock()
                usable = self.ranked(now)
                if usable and all(n in avoid for n in usable):
                    return None
                node = next((n for n in usable if n not in avoid and n.health.free(now)), None)
                if node is not None:
                    node.health.started(now)
                    return node
                self._cond.wait(min(0.1, max(0.001, self.next_change(now) - now)))

    def next_change(self, now: float) -> float:
        """When the next paused node may be asked again."""
        paused = [n.health.paused_until for n in self.nodes if n.health.paused(now)]
        return min(paused, default=math.inf)

    def wait(self, seconds: float, stop: threading.Event | None = None) -> None:
        deadline = self.clock() + seconds
        while (left := deadline - self.clock()) > 0:
            if self.stop.wait(min(left, 0.1)) or (stop is not None and stop.is_set()):
                raise Stopped
        if self.stop.is_set():
            raise Stopped

    @property
    def in_outage(self) -> bool:
        return self._outage is not None

    # -- outcomes ----------------------------------------------------------------------

    def succeeded(
        self,
        node: Node,
        latency: float | None = None,
        blocks: int = 0,
        asked_at: float | None = None,
    ) -> None:
        with self._cond:
            now = self.clock()
            node.health.succeeded(now, latency, blocks, asked_at)
            self._trouble.discard(node.index)
            if self._outage is not None:
                log.info(
                    "node %s answers again, after %d rounds (%.0f s) without any",
                    node.name, self._outage.rounds, now - self._outage.started,
                )  # fmt: skip
                self._outage = None
                self._backoff.reset()
            self._cond.notify_all()

    def saw_tip(self, node: Node, tip: Tip) -> None:
        with self._cond:
            node.health.saw_tip(self.clock(), tip)

    def failed(self, node: Node, err: NodeError, held: bool = True, logged: bool = False) -> None:
        """One log line per failure, or one per round while no node answers. `held`: the
        failed call holds a slot (False: an answer found wrong after it was handed over,
        which the fetcher paces itself); `logged`: the caller said it already."""
        with self._cond:
            now = self.clock()
            node.health.failed(now, err, held)
            counts = held and err.trouble is not Trouble.REFUSED
            if counts:
                self._trouble.add(node.index)
            if self._outage is None or not counts:
                if not logged and not self._said_lately(node, err.reason, now):
                    log.warning("node %s: %s", node.name, err.reason)
                if counts and len(self._trouble) == len(self.nodes):
                    self._begin_outage(now)
            else:
                self._outage.reasons[node.index] = err.reason
                if all(n.index in self._outage.reasons or n.health.paused(now) for n in self.nodes):
                    self._next_round(now)
            self._cond.notify_all()

    def _said_lately(self, node: Node, reason: str, now: float) -> bool:
        """The same failure of the same node a moment ago (requests in flight together fail
        together): one line is enough."""
        said = self._said.get(node.index)
        if said is not None and said[0] == reason and now - said[1] < SAME_FAILURE_QUIET:
            return True
        self._said[node.index] = (reason, now)
        return False

    def release(self, node: Node) -> None:
        """Give back a slot without an outcome (the call was interrupted)."""
        with self._cond:
            node.health.in_flight -= 1
            self._cond.notify_all()

    def demote(self, node: Node, seconds: float) -> None:
        """Prefer the other nodes for a while (this one is behind, or stuck)."""
        with self._cond:
            node.health.demoted_until = self.clock() + seconds
            self._cond.notify_all()

    def _pause_all(self, now: float) -> float:
        """Every node back at the same time, so that each round asks each node once (and
        none before its Retry-After)."""
        wait = self._backoff.next()
        for n in self.nodes:
            n.health.paused_until = max(now + wait, n.health.asked_until)
        return wait

    def _begin_outage(self, now: float) -> None:
        self._outage = _Outage(now)
        wait = self._pause_all(now)
        if len(self.nodes) == 1:
            log.error(
                "Steem node %s gave no usable answer; retrying in %g s. %s",
                self.nodes[0].name, wait, OFFLINE_HINT,
            )  # fmt: skip
        else:
            log.error(
                "no Steem node gave a usable answer (tried %s); retrying in %g s. %s",
                ", ".join(n.name for n in self.nodes), wait, OFFLINE_HINT,
            )  # fmt: skip

    def _next_round(self, now: float) -> None:
        outage = self._outage
        assert outage is not None
        outage.rounds += 1
        said = sorted(outage.reasons.items())
        if len(said) > 1 and len({r for _, r in said}) == 1:
            reasons = f"every node: {said[0][1]}"
        else:
            reasons = "; ".join(f"{self.nodes[i].name}: {r}" for i, r in said)
        outage.reasons = {}
        wait = self._pause_all(now)
        log.warning(
            "still no Steem node answers after %d rounds (%s); retrying in %g s",
            outage.rounds, reasons, wait,
        )  # fmt: skip

    # -- what it settled on --------------------------------------------------------------

    def summary(self) -> str:
        now = self.clock()
        used = [n for n in self.nodes if n.health.blocks]
        return "; ".join(f"{n.name}: {n.health.summary(now)}" for n in used) or "no blocks yet"
