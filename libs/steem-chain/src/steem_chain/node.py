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
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import requests
from beemapi.noderpc import NodeRPC
from ipc_config.settings import redact_url
from requests.adapters import HTTPAdapter

from steem_chain.blocks import (
    BadBlock,
    Block,
    comment_keys,
    parse_block,
    parse_virtual_ops,
    with_comment_states,
)
from steem_chain.reasons import HttpStatus, NodeError, classify

# steemd's DATABASE_API_SINGLE_QUERY_LIMIT: comments asked in one find_comments call.
FIND_COMMENTS_LIMIT = 1000


@dataclass(frozen=True)
class Extras:
    """What a fetched block carries besides its operations (the broadcaster's settings)."""

    virtual_ops: bool = False  # in the same JSON-RPC batch as the blocks
    comment_states: bool = False  # one more request per batch: created, edited or gone


PLAIN = Extras()  # blocks and their operations only


@dataclass(frozen=True)
class Tip:
    """The chain's newest block and newest irreversible block, as one node sees them."""

    head: int
    irreversible: int
    node: str = field(default="", compare=False)  # which node said so

    def target(self, mode: str) -> int:
        return self.irreversible if mode == "irreversible" else self.head


class _Decoded:
    """An answer already decoded, as beem's rpcexec reads a response: `text` only for a
    log line of its own and an emptiness check, `json()` for the value."""

    text = "(decoded)"

    def __init__(self, value: Any) -> None:
        self._value = value

    def json(self) -> Any:
        return self._value


class _NodeRPC(NodeRPC):
    """beem's NodeRPC, which turns an HTTP error page (nginx's 503, a proxy's 429) into our
    HttpStatus: beem drops the status and guesses from the page's text. A JSON body with a
    JSON-RPC error is left to beem, which reads its message. It also times the HTTP round
    trip alone: decoding the answer waits for our own CPU, which says nothing of the node.

    The answer is decoded here with orjson: beem decodes the body to text twice, encodes
    that text again for a debug line and parses it with json, a third of the broadcaster's
    CPU during a catch-up. What orjson refuses (a lone surrogate escape, not JSON) goes to
    beem as it came, so its errors and its leniency stay as they were."""

    round_trip = 0.0

    def request_send(self, payload: bytes) -> requests.Response | _Decoded:
        started = time.monotonic()
        response = super().request_send(payload)
        self.round_trip = time.monotonic() - started
        if response.status_code != 200 and "json" not in response.headers.get("Content-Type", ""):
            raise HttpStatus(response.status_code, response.headers.get("Retry-After"))
        try:
            return _Decoded(orjson.loads(response.content))
        except orjson.JSONDecodeError:
            return response


class NodeClient:
    """One node: JSON-RPC calls and batches through beem, safe to call from many threads."""

    def __init__(
        self, url: str, timeout: float, connections: int = 10, extras: Extras = PLAIN
    ) -> None:
        self.url = url
        self.extras = extras
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
        """Blocks first..last, each checked to be the one asked for, with their extras."""
        answers = self.raw_blocks(first, last)
        return self.comment_states(parse_blocks(first, answers, self.extras.virtual_ops))

    def raw_blocks(self, first: int, last: int) -> list[Any]:
        """One JSON-RPC batch: `block_api.get_block` of each block, then (with virtual
        operations) `account_history_api.get_ops_in_block` of each; the answers as sent."""
        nums = range(first, last + 1)
        calls = [("block_api.get_block", {"block_num": n}) for n in nums]
        if self.extras.virtual_ops:
            params = ({"block_num": n, "only_virtual": True} for n in nums)
            calls += [("account_history_api.get_ops_in_block", p) for p in params]
        return self.batch(calls)

    def comment_states(self, blocks: list[Block]) -> list[Block]:
        """The blocks with what each `comment` did, from one more request: the chain's
        `created` time of their comments (`database_api.find_comments`), in one JSON-RPC
        batch with the node's head, which must have reached the last block (a node behind
        knows nothing of the newest comments: asking it would be guessing)."""
        keys = comment_keys(blocks) if self.extras.comment_states else []
        if not keys:
            return blocks
        chunks = [
            keys[i : i + FIND_COMMENTS_LIMIT] for i in range(0, len(keys), FIND_COMMENTS_LIMIT)
        ]
        calls = [("database_api.get_dynamic_global_properties", {})]
        calls += [
            ("database_api.find_comments", {"comments": [list(k) for k in c]}) for c in chunks
        ]
        props, *answers = self.batch(calls)
        head = props.get("head_block_number", 0) if isinstance(props, dict) else 0
        if not isinstance(head, int) or head < blocks[-1].num:
            raise NodeError(f"its head {head} is behind block {blocks[-1].num}: cannot tell edits")
        created: dict[tuple[str, str], str | None] = dict.fromkeys(keys)
        for answer in answers:
            found = answer.get("comments") if isinstance(answer, dict) else None
            if not isinstance(found, list):
                raise NodeError(f"find_comments answered {_preview(answer)}")
            for c in found:
                key = (c.get("author"), c.get("permlink")) if isinstance(c, dict) else None
                if key in created:
                    created[key] = c.get("created")
        return with_comment_states(blocks, created)

    def batch(self, calls: list[tuple[str, Any]]) -> list[Any]:
        """Calls of several methods in one JSON-RPC batch; their answers, in order."""
        payload = [self._request(method, params) for method, params in calls]
        rpc = self._take()
        try:
            answer = rpc.rpcexec(payload)
        except Exception as err:  # beem raises many kinds; classify names the reason
            raise classify(err, self.timeout) from err
        with self._lock:
            self._idle.append(rpc)
        if not isinstance(answer, list) or len(answer) != len(payload):
            raise NodeError(f"asked for {len(payload)} answers, got {_preview(answer)}")
        return answer


def parse_blocks(first: int, answers: list[Any], virtual_ops: bool = False) -> list[Block]:
    """`raw_blocks`' answers as Blocks, each checked to be the one asked for; with
    `virtual_ops`, the second half of the answers are the blocks' virtual operations."""
    count = len(answers) // 2 if virtual_ops else len(answers)
    blocks = []
    for index, (num, answer) in enumerate(enumerate(answers[:count], first)):
        raw = answer.get("block") if isinstance(answer, dict) else answer
        try:
            block = parse_block(raw, num)
            if virtual_ops:
                block = replace(block, virtual_ops=parse_virtual_ops(answers[count + index], num))
        except BadBlock as err:
            raise NodeError(str(err)) from None
        blocks.append(block)
    return blocks


class BatchParams(list):
    """Parameter sets of one method, sent as one JSON-RPC batch."""


def _preview(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
