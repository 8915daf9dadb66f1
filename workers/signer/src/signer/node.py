"""The signer's calls to the Steem nodes, with the chain library's failover.

    node = Nodes.from_settings(settings)
    head = await node.head()                       # number, time, last irreversible block
    ref = await node.ref_block(head.irreversible)  # TaPoS on an irreversible block
    sent = await node.broadcast(signed.trx)        # the node's answer, or none in time
    where = await node.inclusion(trx_id, expiration, first, last)

Reads go through `steem_chain.AsyncChain`. Broadcasts and the other calls whose error
answers matter go through the same pool (`ChainReader.call`: the preferred node, then
the others), but as plain JSON-RPC posts: steemd's error object (code, message, fc
code) is the answer, which the signer judges (`signer.rejections`); beem would turn it
into exceptions and lose the codes. Only a failure to get an answer at all (refused
connection, timeout, HTTP 503, a connection closed before the answer) moves to another
node. Whether a broadcast may have reached a node is tracked: a timeout or a connection
closed after sending means it may be in.
"""

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from ipc_config.chain import BLOCK_INTERVAL
from ipc_config.settings import ChainSettings
from steem_chain import AsyncChain, BadBlock, Block, Node, NodeError, Stopped, parse_block
from steem_chain.reasons import HttpStatus, Trouble, chain_of
from steem_chain.threads import DaemonThreads

from signer.transactions import RefBlock, chain_seconds

log = logging.getLogger(__name__)

T = TypeVar("T")
_NOT_SENT = (ConnectionRefusedError, requests.exceptions.ConnectTimeout)
_MISSING_API = ("Could not find API", "Could not find method", "no method with name")


@dataclass(frozen=True)
class Head:
    num: int
    time: int  # the head block's timestamp, unix seconds: the signer's clock
    irreversible: int


@dataclass
class Sent:
    """What became of one broadcast: the node's answer (None: none in time) and whether
    the transaction may have reached a node anyway."""

    answer: dict[str, Any] | None
    maybe_sent: bool


NOT_INCLUDED = -1  # inclusion(): certainly in no block
UNDECIDED = 0  # inclusion(): the node cannot tell yet


class Nodes:
    def __init__(self, nodes: tuple[str, ...], timeout: float, mode: str = "irreversible"):
        self.chain = AsyncChain(nodes, timeout=timeout, max_in_flight=2, mode=mode)
        self.timeout = timeout
        self._threads = DaemonThreads(len(nodes) * 2 + 2, "signer-node")
        self._local = threading.local()
        self._ids = 0
        self._refs: dict[int, RefBlock] = {}
        self._find_offered = True

    @classmethod
    def from_settings(cls, settings: ChainSettings) -> "Nodes":
        return cls(settings.nodes, settings.node_timeout, settings.mode)

    def close(self) -> None:
        self.chain.close()

    # -- reads ---------------------------------------------------------------------------

    async def head(self) -> Head:
        props = await self.chain.dynamic_global_properties()
        return Head(
            int(props["head_block_number"]),
            chain_seconds(props["time"]),
            int(props["last_irreversible_block_num"]),
        )

    async def ref_block(self, num: int) -> RefBlock | None:
        """Block `num` (irreversible) as a TaPoS reference, kept for the next signings;
        None while no node serves it (a chain that starts there, a node in trouble)."""
        if num not in self._refs:
            block = await self.block(num)
            if block is None:
                return None
            self._refs = {num: RefBlock(num, block.id)}
        return self._refs[num]

    async def block(self, num: int) -> Block | None:
        """Block `num` as a node serves it; None when no node gives it in time."""
        try:
            answer = await self.call(
                "block_api.get_block", {"block_num": num}, deadline=2 * self.timeout
            )
            return parse_block((answer.get("result") or {}).get("block"), num)
        except (Stopped, BadBlock):
            return None

    async def accounts(self, names: list[str]) -> dict[str, dict[str, Any] | None]:
        return await self.chain.accounts(names)

    async def key_references(self, publics: list[str]) -> list[list[str]]:
        """The accounts whose authorities list each public key (account_by_key_api, or
        condenser_api's copy of it on nodes without the former)."""
        answer = await self.call("account_by_key_api.get_key_references", {"keys": publics})
        if _missing_api(answer):
            answer = await self.call("condenser_api.get_key_references", [publics])
            result = answer.get("result")
        else:
            result = (answer.get("result") or {}).get("accounts")
        if "error" in answer or not isinstance(result, list) or len(result) != len(publics):
            raise NodeError(f"get_key_references: unexpected answer {str(answer)[:120]}")
        return [[str(name) for name in names] for names in result]

    # -- transactions --------------------------------------------------------------------

    async def broadcast(self, trx: dict[str, Any]) -> Sent:
        """`condenser_api.broadcast_transaction`: {} when accepted, or steemd's error."""
        sent = Sent(None, False)
        deadline = 2 * self.timeout + BLOCK_INTERVAL
        with contextlib.suppress(Stopped):  # no node answered in time: tried again later
            sent.answer = await self.call(
                "condenser_api.broadcast_transaction", [trx], deadline=deadline, sent=sent
            )
        return sent

    async def inclusion(self, trx_id: str, expiration: str, first: int, last: int) -> int:
        """The block holding `trx_id` (irreversible), NOT_INCLUDED when certainly none
        does, UNDECIDED when the node cannot tell yet. Asks transaction_status_api where
        the node offers it; otherwise reads blocks `first`..`last` (those that could hold
        it: from its signing to past its expiration, all irreversible by now)."""
        if self._find_offered:
            params = {"transaction_id": trx_id, "expiration": expiration}
            answer = await self.call("transaction_status_api.find_transaction", params)
            if _missing_api(answer):
                self._find_offered = False
                log.info("the node has no transaction_status_api: reading blocks instead")
            else:
                status = (answer.get("result") or {}).get("status")
                if status in ("within_irreversible_block", "within_reversible_block"):
                    return int(answer["result"]["block_num"])
                if status == "expired_irreversible":
                    return NOT_INCLUDED
                if status in ("within_mempool", "expired_reversible"):
                    return UNDECIDED
                # too_old, unknown, an error: the node does not know; the blocks do
        for num in range(max(1, first), last + 1):
            block = await self.block(num)
            if block is None:
                return UNDECIDED  # a block we cannot read may hold it: ask again later
            if any(op.trx_id == trx_id for op in block.operations):
                return num
        return NOT_INCLUDED

    # -- plain JSON-RPC through the pool -------------------------------------------------

    async def call(
        self,
        method: str,
        params: Any,
        *,
        deadline: float | None = None,
        sent: Sent | None = None,
    ) -> dict[str, Any]:
        """The first JSON-RPC answer (result or error) of any node; Stopped after
        `deadline` seconds without one (None: keep trying, like every read)."""
        self._ids += 1
        payload = json.dumps(
            {"jsonrpc": "2.0", "method": method, "params": params, "id": self._ids}
        )
        stop = threading.Event()
        timer = threading.Timer(deadline, stop.set) if deadline else None
        if timer is not None:
            timer.daemon = True
            timer.start()

        def post(node: Node) -> dict[str, Any]:
            return self._post(node, payload.encode(), sent)

        try:
            return await self._in_thread(lambda: self.chain.reader.call(post, stop)[0], stop)
        finally:
            if timer is not None:
                timer.cancel()

    def _post(self, node: Node, payload: bytes, sent: Sent | None) -> dict[str, Any]:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            response = session.post(
                node.client.url,
                data=payload,
                headers={"Content-Type": "application/json"},
                timeout=node.client.timeout,
            )
        except requests.exceptions.RequestException as err:
            if sent is not None and not any(isinstance(e, _NOT_SENT) for e in chain_of(err)):
                sent.maybe_sent = True  # a timeout, or a connection closed after sending
            raise
        if sent is not None:
            sent.maybe_sent = True
        if response.status_code != 200 and "json" not in response.headers.get("Content-Type", ""):
            raise HttpStatus(response.status_code, response.headers.get("Retry-After"))
        answer = response.json()  # malformed JSON raises: another node is asked
        if not isinstance(answer, dict) or not ("result" in answer or "error" in answer):
            raise NodeError(f"not a JSON-RPC answer: {response.text[:80]}", Trouble.BROKEN)
        return answer

    async def _in_thread(self, call: Callable[[], T], stop: threading.Event) -> T:
        future = self._threads.submit(call)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            stop.set()  # the call's retries end; a request already sent finishes
            raise


def _missing_api(answer: dict[str, Any]) -> bool:
    error = answer.get("error")
    message = str(error.get("message", "")) if isinstance(error, dict) else ""
    return any(text in message for text in _MISSING_API)
