"""Reading the chain in a thread, for the event loop: the broadcaster's input.

    Steem nodes --(beem, thread)--> bounded queue --(asyncio)--> the publisher

The queue holds a few batches at most, so a publisher stuck on a NATS outage stops the
reader instead of letting it pile the chain up in memory.
"""

import asyncio
import logging
import threading

from ipc_config import ChainSettings
from steem_chain import NodePool, Stopped, Tip
from steem_chain.node import Extras
from steem_chain.threads import limit_malloc_arenas, relax_gc

from broadcaster.follow import Batch, ChainSource, Follower
from broadcaster.publisher import Checkpoint

log = logging.getLogger(__name__)

QUEUE_BATCHES = 4


def target_of(tip: Tip, mode: str) -> int:
    return tip.irreversible if mode == "irreversible" else tip.head


class ChainThread:
    """Runs the Follower in a daemon thread and hands its batches to the event loop."""

    def __init__(
        self, chain: ChainSettings, checkpoint: Checkpoint | None, known_ids: dict[int, str]
    ) -> None:
        self._chain = chain
        self._checkpoint = checkpoint
        self._known_ids = known_ids  # block number -> id, of the last blocks in the stream
        limit_malloc_arenas()  # a thread per request in flight: see there
        relax_gc()  # decoded blocks waiting by the thousand: see there
        self._stop = threading.Event()
        self._loop = asyncio.get_running_loop()
        self.batches: asyncio.Queue[Batch | BaseException] = asyncio.Queue(QUEUE_BATCHES)
        # Every comment is told created or edited (one more request per batch), so that
        # every worker knows a new post from an edit without asking a node.
        extras = Extras(virtual_ops=chain.virtual_ops, comment_states=True)
        pool = NodePool(
            chain.nodes, chain.node_timeout, self._stop, max_in_flight=chain.max_in_flight,
            batch_size=chain.fetch_batch_size, mode=chain.mode, extras=extras,
        )  # fmt: skip
        self._source = ChainSource(pool)
        self._thread = threading.Thread(target=self._run, name="chain", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _emit(self, item: Batch | BaseException) -> None:
        asyncio.run_coroutine_threadsafe(self.batches.put(item), self._loop).result()

    def _run(self) -> None:
        try:
            next_num = self._start_point()
            Follower(
                self._source, self._chain.mode, next_num, self._known_ids, self._emit, self._stop
            ).run()
        except Stopped:
            pass
        except BaseException as err:  # hand it to the event loop, which exits non-zero
            if not self._stop.is_set():
                self._emit(err)

    def _start_point(self) -> int:
        mode = self._chain.mode
        if self._checkpoint is not None:
            log.info(
                "resuming after block %d (%s), the last checkpoint in the stream",
                self._checkpoint.block_num, self._checkpoint.block_id,
            )  # fmt: skip
            return self._checkpoint.block_num + 1
        if self._chain.start_block is not None:
            log.info(
                "no checkpoint in the stream; starting at START_BLOCK %d", self._chain.start_block
            )
            return self._chain.start_block
        start = target_of(self._source.tip(), mode)
        log.info(
            "no checkpoint and no START_BLOCK; starting at the current %s block %d", mode, start
        )
        return start
