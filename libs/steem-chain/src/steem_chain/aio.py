"""Chain reads for asyncio code: the same failover, run in daemon threads (beem blocks).

    chain = AsyncChain.from_settings(ChainSettings.from_env(os.environ))
    post = await chain.post("alice", "hello-world")    # None: no such post
    account = await chain.account("alice")             # None: no such account
    props = await chain.dynamic_global_properties()

A read goes to the preferred node and fails over like the broadcaster's reads: every
failure is logged with the node and a short reason, and the read is tried again until a
node answers; it is never answered with a guess. Cancelling the awaiting task (a
timeout, a shutdown) stops the retries; a request already sent finishes in its thread.
"""

import asyncio
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from ipc_config.settings import ChainSettings

from steem_chain.blocks import Block
from steem_chain.node import Tip
from steem_chain.pool import DEFAULT_MAX_IN_FLIGHT, NodePool
from steem_chain.reader import ChainReader
from steem_chain.threads import DaemonThreads

T = TypeVar("T")


class AsyncChain:
    """Read-only chain calls for coroutines, on one NodePool."""

    def __init__(
        self,
        nodes: Sequence[str],
        *,
        timeout: float = 10.0,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        mode: str = "irreversible",
    ) -> None:
        self.pool = NodePool(nodes, timeout, max_in_flight=max_in_flight, mode=mode)
        self.reader = ChainReader(self.pool)
        self._threads = DaemonThreads(len(self.pool.nodes) * max_in_flight + 1, "chain-read")

    @classmethod
    def from_settings(cls, chain: ChainSettings) -> "AsyncChain":
        return cls(
            chain.nodes,
            timeout=chain.node_timeout,
            max_in_flight=getattr(chain, "max_in_flight", DEFAULT_MAX_IN_FLIGHT),
            mode=chain.mode,
        )

    def close(self) -> None:
        """Stop every read still retrying (they raise Stopped)."""
        self.pool.stop.set()

    async def tip(self) -> Tip:
        return await self._run(self.reader.tip)

    async def dynamic_global_properties(self) -> dict[str, Any]:
        return await self._run(self.reader.dynamic_global_properties)

    async def post(self, author: str, permlink: str) -> dict[str, Any] | None:
        return await self._run(self.reader.post, author, permlink)

    async def find_comments(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any] | None]:
        return await self._run(self.reader.find_comments, list(keys))

    async def account(self, name: str) -> dict[str, Any] | None:
        return await self._run(self.reader.account, name)

    async def accounts(self, names: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        return await self._run(self.reader.accounts, list(names))

    async def blocks(self, first: int, last: int) -> list[Block]:
        return await self._run(self.reader.blocks, first, last)

    async def _run(self, read: Callable[..., T], *args: Any) -> T:
        cancelled = threading.Event()  # the read's own stop, set if the caller gives up
        future = self._threads.submit(read, *args, cancelled)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            cancelled.set()
            raise
