"""One Steem API node, spoken to through beem's NodeRPC.

beem's own failover gives up on a node for good after enough lifetime errors and sleeps
inside calls, so each NodeRPC is told to fail fast (no retries, no chain detection) and
the failover is ours (`pool`). A NodeRPC keeps per-call state (a batch queue, error
counters that decide whether a failed call is retried), so it is not shared between
threads: a node keeps one per request in flight, all on one keep-alive HTTP session, and
drops any that failed. Every failure leaves as a `NodeError` with a short reason.
"""

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from beemapi.noderpc import NodeRPC
from ipc_config.settings import redact_url
from requests.adapters import HTTPAdapter

from steem_chain.blocks import BadBlock, Block, parse_block
from steem_chain.reasons import HttpStatus, NodeError, classify


@dataclass(frozen=True)
class Tip:
    """The chain's newest block and newest irreversible block, as one node sees them."""

    head: int
    irreversible: int
    node: str = field(default="", compare=False)  # which node said so

    def target(self, mode: str) -> int:
        return self.irreversible if mode == "irreversible" else self.head


class _NodeRPC(NodeRPC):
    """beem's NodeRPC, which turns an HTTP error page (nginx's 503, a proxy's 429) into our
    HttpStatus: beem drops the status and guesses from the page's text. A JSON body with a
    JSON-RPC error is left to beem, which reads its message. It also times the HTTP round
    trip alone: decoding the answer waits for our own CPU, which says nothing of the node."""

    round_trip = 0.0

    def request_send(self, payload: bytes) -> requests.Response:
        started = time.monotonic()
        response = super().request_send(payload)
        self.round_trip = time.monotonic() - started
        if response.status_code != 200 and "json" not in response.headers.get("Content-Type", ""):
            raise HttpStatus(response.status_code, response.headers.get("Retry-After"))
        return response


class NodeClient:
    """One node: JSON-RPC calls and batches through beem, safe to call from many threads."""

    def __init__(self, url: str, timeout: float, connections: int = 10) -> None:
        self.url = url
        self.name = redact_url(url)
        self.timeout = timeout
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=connections)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._idle: list[_NodeRPC] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._ids = 0

    def _take(self) -> _NodeRPC:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        rpc = _NodeRPC(
            [self.url],
            num_retries=0,  # raise at the first failure instead of sleeping and retrying
            num_retries_call=0,
            timeout=self.timeout,
            # No chain detection: a get_config call at every connection and, when it
            # fails, beem drops the real reason. Every Steem node is appbase.
            disable_chain_detection=True,
        )
        rpc.session = self._session  # beem's default is one session for the whole process
        return rpc

    def _request(self, method: str, params: Any) -> dict[str, Any]:
        with self._lock:
            self._ids += 1
            return {"jsonrpc": "2.0", "method": method, "params": params, "id": self._ids}

    def call(self, method: str, params: Any) -> Any:
        """One call (`database_api.get_dynamic_global_properties`, {}), or a batch when
        `params` is a list of parameter sets: then the answers come back as a list."""
        if isinstance(params, BatchParams):
            payload: Any = [self._request(method, p) for p in params]
        else:
            payload = self._request(method, params)
        rpc = self._take()
        try:
            answer = rpc.rpcexec(payload)
        except Exception as err:  # beem raises many kinds; classify names the reason
            raise classify(err, self.timeout) from err
        self._local.round_trip = rpc.round_trip
        with self._lock:
            self._idle.append(rpc)
        if isinstance(payload, list) and (
            not isinstance(answer, list) or len(answer) != len(payload)
        ):
            raise NodeError(f"asked for {len(payload)} answers, got {_preview(answer)}")
        return answer

    def round_trip(self) -> float:
        """Seconds the HTTP exchange of this thread's last successful call took."""
        return getattr(self._local, "round_trip", 0.0)

    def tip(self) -> Tip:
        props = self.call("database_api.get_dynamic_global_properties", {})
        try:
            head, lib = props["head_block_number"], props["last_irreversible_block_num"]
            return Tip(int(head), int(lib), self.name)
        except (KeyError, TypeError, ValueError):
            raise NodeError(f"malformed dynamic global properties: {_preview(props)}") from None

    def blocks(self, first: int, last: int) -> list[Block]:
        """Blocks first..last in one JSON-RPC batch of `block_api.get_block` calls, each
        checked to be the one asked for."""
        return parse_blocks(first, self.raw_blocks(first, last))

    def raw_blocks(self, first: int, last: int) -> list[Any]:
        """The answers to a batch of `block_api.get_block` calls, as the node sent them."""
        nums = range(first, last + 1)
        return self.call("block_api.get_block", BatchParams({"block_num": n} for n in nums))


def parse_blocks(first: int, answers: list[Any]) -> list[Block]:
    """`raw_blocks`' answers as Blocks, each checked to be the one asked for."""
    blocks = []
    for num, answer in enumerate(answers, first):
        raw = answer.get("block") if isinstance(answer, dict) else answer
        try:
            blocks.append(parse_block(raw, num))
        except BadBlock as err:
            raise NodeError(str(err)) from None
    return blocks


class BatchParams(list):
    """Parameter sets of one method, sent as one JSON-RPC batch."""


def _preview(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
