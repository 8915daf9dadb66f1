"""The replay node: a Steem JSON-RPC node over HTTP that serves recorded blocks, with a
clock, micro-forks and fault injection, and a small test chain that takes transactions.

Usage from Python (tests, benchmarks)::

    with ReplayNode(pace=0) as node:           # bundled sample, everything visible
        requests.post(node.url, json={...})

    node = ReplayNode("blocks.jsonl.gz", pace=0.5, irreversible_lag=3).start()
    ...
    node.stop()
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .accounts import Accounts
from .blocks import dumps
from .chain_config import BLOCK_SECONDS, shift_time
from .chain_methods import ChainMethods
from .comments import ChainView
from .faults import FAULT_KINDS, FaultDice, Faults, corrupt_id
from .fork import plan_forks, relinked_successors
from .httpd import HTTP_503, HttpServer
from .methods import ReadMethods
from .rpc import Dispatcher
from .served import Served
from .store import BlockStore, both_shapes
from .testchain import LostAnswer, TestChain
from .timeline import Timeline

__all__ = ["ReplayNode"]


class ReplayNode:
    """The replay node: an HTTP JSON-RPC server over a :class:`BlockStore`.

    ``archive``: path of a JSON Lines archive (default: bundled sample), or pass
    ``store``/``blocks`` instead. ``pace``: seconds per head advance (0: the whole
    archive is visible at once and nothing advances, except through :meth:`advance`).
    ``start_blocks``: blocks visible at start (default: all with pace 0, else 1).
    ``irreversible_lag``: head - LIB (default 0 with pace 0, else 15). ``latency``:
    seconds to sleep before answering each JSON-RPC request. ``forks``: block numbers N
    at which the chain switches, once the head moves past N, to another branch for blocks
    N-``fork_depth``+1..N (see :mod:`replay_node.fork`); ``fork_depth`` must not exceed
    the irreversible lag. ``accounts``: ``name -> public key`` of accounts that can sign
    transactions, besides the demo account (:mod:`replay_node.accounts`).
    ``keep_producing``: after the archive's last block, produce empty blocks (holding the
    transactions the node includes), one per advance. The remaining keyword arguments are
    :class:`Faults` fields.
    """

    def __init__(
        self,
        archive: str | Path | None = None,
        *,
        store: BlockStore | None = None,
        blocks: Iterable[dict[str, Any]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        pace: float = 3.0,
        start_blocks: int | None = None,
        irreversible_lag: int | None = None,
        latency: float = 0.0,
        faults: Faults | None = None,
        forks: Iterable[int] = (),
        fork_depth: int = 2,
        accounts: Mapping[str, str] | None = None,
        keep_producing: bool = False,
        **fault_options: Any,
    ):
        if store is None:
            store = (
                BlockStore.from_blocks(blocks)
                if blocks is not None
                else BlockStore.from_archive(archive)
            )
        if pace < 0 or latency < 0:
            raise ValueError("pace and latency must be >= 0")
        self.store = store
        self.host = host
        self.port = port
        self.pace = float(pace)
        n = len(store)
        if start_blocks is None:
            start_blocks = n if self.pace == 0 else 1
        if start_blocks < 0:
            raise ValueError("start_blocks must be >= 0")
        self.start_blocks = min(start_blocks, n)
        if irreversible_lag is None:
            irreversible_lag = 0 if self.pace == 0 else 15
        if irreversible_lag < 0:
            raise ValueError("irreversible_lag must be >= 0")
        self.irreversible_lag = irreversible_lag
        self.latency = float(latency)
        self.faults = faults if faults is not None else Faults(**fault_options)
        self.accounts = Accounts(accounts)
        self.keep_producing = keep_producing
        self.chain = TestChain(self)
        self.timeline = Timeline(
            n,
            self.start_blocks,
            irreversible_lag,
            self.faults.behind,
            growable=keep_producing,
            on_advance=self.chain.on_advance,
        )
        self.requests_served = 0
        self.calls_served = 0
        self.faults_injected = dict.fromkeys(FAULT_KINDS, 0)
        self._counter_lock = threading.Lock()
        head_at_start = self.timeline.indexes(0)[0]
        self.forks = plan_forks(
            store, sorted(set(forks)), fork_depth, irreversible_lag, head_at_start
        )
        for k, fork in enumerate(self.forks, 1):
            for j, appbase in enumerate(fork.appbase):
                store.comments.add_block(fork.lo + j, json.loads(appbase), k)
        # Archive indexes served with other bytes than the store's: (appbase, condenser).
        corrupt: dict[int, tuple[bytes, bytes]] = {}
        for num in sorted(self.faults.corrupt_previous):
            i = num - store.first
            if 0 <= i < n:
                block = store.block(i)
                block["previous"] = corrupt_id(num, block["previous"])
                corrupt[i] = both_shapes(block)
        after_fork = relinked_successors(store, self.forks)
        self.blocks = Served(store, self.forks, after_fork, corrupt, self.faults, self.count_fault)
        self.blocks.chain = self.chain
        self._dice = FaultDice(self.faults)
        self._produce_lock = threading.Lock()
        self._server: HttpServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._t0 = 0.0
        self._auto_steps = 0
        self._manual_steps = 0
        methods = ReadMethods(self).table() | ChainMethods(self).table()
        methods["jsonrpc.get_methods"] = lambda params, state: dumps(sorted(methods))
        self._rpc = Dispatcher(methods)

    # -- lifecycle -------------------------------------------------------------------
    @property
    def first_block(self) -> int:
        return self.store.first

    @property
    def last_block(self) -> int:
        return self.store.last

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ReplayNode:
        """Bind, start serving and start the clock. Returns self."""
        if self._server is not None:
            raise RuntimeError("already started")
        server = HttpServer((self.host, self.port), self)
        self._server = server
        self.port = server.server_address[1]
        self._t0 = time.time()
        self.timeline.apply(0, self._t0)
        t = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="replay-node-http"
        )
        t.daemon = True
        t.start()
        self._threads.append(t)
        if self.pace > 0:
            ticker = threading.Thread(target=self._tick_loop, name="replay-node-clock", daemon=True)
            ticker.start()
            self._threads.append(ticker)
        return self

    def stop(self) -> None:
        """Stop serving, close client connections and the clock. Idempotent."""
        self._stop.set()
        self.chain.close()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(timeout=2)
        self._threads.clear()

    def __enter__(self) -> ReplayNode:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def track(self, conn: socket.socket, add: bool) -> None:
        """Remember open client connections, so that :meth:`stop` can close them."""
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # -- clock ---------------------------------------------------------------------
    def _tick_loop(self) -> None:
        pace = self.pace
        while not self._stop.is_set() and not self.timeline.finished:
            k = self._auto_steps + 1
            delay = self._t0 + k * pace - time.time()
            if delay > 0 and self._stop.wait(delay):
                return
            now = time.time()
            self._auto_steps = max(k, int((now - self._t0) / pace))
            self._apply(self._auto_steps + self._manual_steps, now)

    def advance(self, steps: int = 1) -> tuple[int, int]:
        """Advance the head by ``steps`` blocks now (the LIB follows); returns
        ``(head, irreversible)`` block numbers."""
        with self._counter_lock:
            self._manual_steps += steps
            total = self._auto_steps + self._manual_steps
        self._apply(total)
        return self.head_and_irreversible()

    def _apply(self, steps: int, now: float | None = None) -> None:
        if self.keep_producing:
            with self._produce_lock:
                while len(self.store) < self.start_blocks + steps:
                    self.store.produce()
                self.timeline.grow(len(self.store))
        self.timeline.apply(steps, now)

    def head_and_irreversible(self) -> tuple[int, int]:
        head, lib = self.timeline.state
        return self.store.first + head, self.store.first + lib

    # -- what tests look at --------------------------------------------------------
    def status(self) -> dict[str, Any]:
        head, lib = self.head_and_irreversible()
        return {
            "first_block": self.store.first,
            "last_block": self.store.last,
            "head": head,
            "irreversible": lib,
            "requests_served": self.requests_served,
            "calls_served": self.calls_served,
            "pace": self.pace,
            "irreversible_lag": self.irreversible_lag,
            "behind": self.faults.behind,
            "source": self.store.source,
            "faults_injected": dict(self.faults_injected),
            "forks": [fork.describe(self.timeline.state[0]) for fork in self.forks],
            "keep_producing": self.keep_producing,
            "accounts": sorted(self.accounts.keys),
            "mempool": len(self.chain.mempool),
            "transactions_included": sum(len(t) for t in self.chain.included.values()),
        }

    def served_block(self, num: int, virtual_ops: bool = False) -> dict[str, Any]:
        """Block ``num`` as the node serves it now, visible or not yet (after a fork: the
        new branch); with ``virtual_ops``, its virtual operations under that key, as
        ``get_ops_in_block`` lists them."""
        i = num - self.store.first
        if not 0 <= i < len(self.store):
            raise KeyError(num)
        block = json.loads(self.blocks.served(i, self.timeline.state, count=False))
        if virtual_ops:
            block["virtual_ops"] = json.loads(self.store.vops_appbase[i])
        return block

    def visibility(self) -> dict[str, dict[str, float | None]]:
        """``{"<block_num>": {"head": t, "irreversible": t or None}}`` (unix times) for
        every block that became visible so far."""
        tl, first = self.timeline, self.store.first
        out = {}
        for i, t in enumerate(tl.head_at):
            if t is not None:
                out[str(first + i)] = {"head": t, "irreversible": tl.irreversible_at[i]}
        return out

    # -- requests ------------------------------------------------------------------
    def handle_get(self, path: str) -> tuple[int, bytes]:
        if path == "/status":
            return 200, dumps(self.status())
        if path == "/visibility":
            return 200, dumps(self.visibility())
        if path == "/transactions":
            return 200, dumps(self.chain.describe())
        routes = "GET /status, /visibility or /transactions"
        return 404, dumps({"error": f"JSON-RPC is served with POST; {routes}"})

    def handle_post(self, body: bytes) -> tuple[int, bytes, bytes]:
        """(HTTP status, body, content type) for a JSON-RPC request, faults included."""
        with self._counter_lock:
            self.requests_served += 1
        if self.latency:
            time.sleep(self.latency)
        fault = None
        if self._dice.active:
            stall, fault = self._dice.roll()
            if stall:
                self.count_fault("stall")
                time.sleep(self.faults.stall_seconds)
            if fault is not None:
                self.count_fault(fault)
            if fault == "http_503":
                return 503, HTTP_503, b"text/html"
        try:
            payload, calls = self._rpc.handle(body, self.timeline.state, fault == "rpc_error")
        except LostAnswer:
            return 0, b"", b""  # the HTTP server closes the connection without a word
        with self._counter_lock:
            self.calls_served += calls
        if fault == "truncated":
            payload = payload[: max(1, len(payload) // 2)]
        return 200, payload, b"application/json"

    def count_fault(self, kind: str) -> None:
        with self._counter_lock:
            self.faults_injected[kind] += 1

    # -- block access (see served.py) ------------------------------------------------
    def index(self, num: int, state: tuple[int, int]) -> int | None:
        return self.blocks.index(num, state)

    def served(self, i: int, state: tuple[int, int], condenser: bool = False) -> bytes:
        return self.blocks.served(i, state, condenser)

    def comment_view(self, state: tuple[int, int]) -> ChainView:
        return self.blocks.comment_view(state)

    def time_of(self, i: int) -> str:
        """Timestamp of the block at archive index ``i`` (-1: the block before the first)."""
        if i < 0:
            return shift_time(self.store.timestamps[0], -BLOCK_SECONDS)
        return self.store.timestamps[i]

    def head_time(self, state: tuple[int, int]) -> str:
        return self.time_of(state[0])

    def tapos_prefix(self, ref_block_num: int, state: tuple[int, int]) -> int | None:
        """``ref_block_prefix`` of the latest visible block whose number ends (16 bits) with
        ``ref_block_num``, as steemd's block summary holds it; None if it is not served."""
        head = self.store.first + state[0]
        num = head - ((head - ref_block_num) & 0xFFFF)
        if num < self.store.first:
            return None
        block_id = self.blocks.block_id(num - self.store.first, state)
        return int.from_bytes(bytes.fromhex(block_id[8:16]), "little")
