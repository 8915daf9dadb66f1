"""Reading the chain from Steem API nodes, with beem, never giving up and never skipping.

beem's NodeRPC speaks JSON-RPC over HTTP (batches included) and knows both API flavours.
Its own failover gives up on a node for good after enough lifetime errors and sleeps
inside calls, so we keep one NodeRPC per node, told to fail fast, and do the failover
here: a failed call moves on to the next node, and once every node has failed in a row
we wait (growing to 30 s) and start the round again. Every failure is logged with the
node and the reason; a block is never skipped, only asked for again elsewhere.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from beemapi.exceptions import CallRetriesReached, NumRetriesReached
from beemapi.noderpc import NodeRPC
from ipc_config.settings import redact_url

from broadcaster.blocks import BadBlock, Block, parse_block

log = logging.getLogger(__name__)

T = TypeVar("T")

ROUND_BACKOFF_START = 1.0
ROUND_BACKOFF_MAX = 30.0
OFFLINE_HINT = (
    "No internet? Run offline against the bundled replay node: "
    "uv run honcho -f Procfile.replay start"
)


_RETRY_COUNTERS = (NumRetriesReached, CallRetriesReached)


class NodeError(Exception):
    """One node could not give us what we asked for; another may."""


class Stopped(Exception):
    """The process is shutting down (while reading the chain or retrying a publish)."""


@dataclass(frozen=True)
class Tip:
    """The chain's newest block and newest irreversible block, as one node sees them."""

    head: int
    irreversible: int


class NodeClient:
    """One Steem API node through beem, rebuilt from scratch after any failure."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.name = redact_url(url)
        self._timeout = timeout
        self._rpc: NodeRPC | None = None

    def _connected(self) -> NodeRPC:
        if self._rpc is None:
            # num_retries=0: raise at the first failure instead of sleeping and retrying.
            # No chain detection: it would cost a get_config call at every rebuild and,
            # when that fails, beem drops the real reason. Every Steem node is appbase.
            self._rpc = NodeRPC(
                [self.url],
                num_retries=0,
                num_retries_call=0,
                timeout=self._timeout,
                disable_chain_detection=True,
            )
        return self._rpc

    def reset(self) -> None:
        self._rpc = None

    def tip(self) -> Tip:
        props = self._connected().get_dynamic_global_properties(api="database")
        try:
            return Tip(int(props["head_block_number"]), int(props["last_irreversible_block_num"]))
        except (KeyError, TypeError, ValueError):
            raise NodeError(f"malformed dynamic global properties: {str(props)[:80]}") from None

    def blocks(self, first: int, last: int) -> list[Block]:
        """Blocks first..last in one JSON-RPC batch of `block_api.get_block` calls, each
        checked to be the one asked for."""
        rpc = self._connected()
        answers: Any = None
        for num in range(first, last + 1):
            queue = num < last  # the last call sends the whole batch
            answers = rpc.get_block({"block_num": num}, api="block", add_to_queue=queue)
        if first == last:
            answers = [answers]
        if not isinstance(answers, list) or len(answers) != last - first + 1:
            raise NodeError(f"asked for {last - first + 1} blocks, got {str(answers)[:80]}")
        blocks = []
        for num, answer in zip(range(first, last + 1), answers, strict=True):
            raw = answer.get("block") if isinstance(answer, dict) else answer
            try:
                blocks.append(parse_block(raw, num))
            except BadBlock as err:
                raise NodeError(str(err)) from None
        return blocks


def describe(err: BaseException) -> str:
    """The reason behind a beem error.

    beem raises its retry counters (NumRetriesReached, CallRetriesReached) from inside
    the handler of the real error, sometimes twice over: name the first error that says
    something, and the root cause under it (a 503 page is a JSON error underneath).
    """
    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    telling = [e for e in chain if str(e) and not isinstance(e, _RETRY_COUNTERS)] or [err]
    outer, root = telling[0], telling[-1]
    text = f"{type(outer).__name__}: {str(outer)[:160]}"
    if root is not outer:
        text += f" ({type(root).__name__}: {str(root)[:160]})"
    return text


class ChainReader:
    """Asks the configured nodes in turn until one answers properly."""

    def __init__(self, nodes: list[NodeClient], stop: threading.Event) -> None:
        if not nodes:
            raise ValueError("no Steem nodes configured")
        self.nodes = nodes
        self._stop = stop
        self._current = 0

    @property
    def node(self) -> NodeClient:
        return self.nodes[self._current]

    def rotate(self) -> None:
        """Prefer the next node from now on."""
        self._current = (self._current + 1) % len(self.nodes)

    def tip(self) -> Tip:
        return self._with_failover(lambda node: node.tip())

    def blocks(self, first: int, last: int) -> list[Block]:
        return self._with_failover(lambda node: node.blocks(first, last))

    def _with_failover(self, action: Callable[[NodeClient], T]) -> T:
        backoff = ROUND_BACKOFF_START
        while True:
            failures = []
            for _ in range(len(self.nodes)):
                if self._stop.is_set():
                    raise Stopped
                node = self.node
                try:
                    return action(node)
                except Exception as err:  # beem raises many kinds; each means "try another"
                    reason = describe(err)
                    failures.append(f"{node.name}: {reason}")
                    log.warning("node %s failed: %s", node.name, reason)
                    node.reset()
                    self.rotate()
            if len(self.nodes) > 1:
                log.error(
                    "no Steem node answers (tried %s); retrying in %.0f s. %s",
                    ", ".join(n.name for n in self.nodes),
                    backoff,
                    OFFLINE_HINT,
                )
            else:
                log.error(
                    "Steem node %s does not answer; retrying in %.0f s. %s",
                    self.node.name,
                    backoff,
                    OFFLINE_HINT,
                )
            if self._stop.wait(backoff):
                raise Stopped
            backoff = min(backoff * 2, ROUND_BACKOFF_MAX)
