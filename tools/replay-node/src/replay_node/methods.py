"""The read methods of the node: chain constants and state, blocks, headers, operations.

Each handler takes ``(params, state)``, ``state`` being the (head, LIB) archive indexes
read once per request, and returns the JSON bytes of its result; blocks come from the
node as pre-serialised bytes (:meth:`ReplayNode.served`), already in the branch the node
serves now.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .blocks import dumps
from .chain_config import CHAIN_ID, chain_config, dynamic_global_properties
from .rpc import Handler, RpcError, num_param
from .shapes import op_to_condenser, to_condenser, value_to_condenser

if TYPE_CHECKING:
    from .node import ReplayNode

__all__ = ["MAX_BLOCK_RANGE", "ReadMethods"]

MAX_BLOCK_RANGE = 1000
State = tuple[int, int]


class ReadMethods:
    """block_api, condenser_api, database_api and account_history_api reads."""

    def __init__(self, node: ReplayNode):
        self.node = node
        self._config = dumps(chain_config())
        self._dgp_cache: dict[tuple[int, int, bool], bytes] = {}

    def table(self) -> dict[str, Handler]:
        return {
            "database_api.get_config": self.config,
            "condenser_api.get_config": self.config,
            "database_api.get_dynamic_global_properties": self.dgp,
            "condenser_api.get_dynamic_global_properties": self.dgp_condenser,
            "block_api.get_block": self.get_block,
            "condenser_api.get_block": self.get_block_condenser,
            "block_api.get_block_range": self.get_block_range,
            "block_api.get_block_header": self.get_block_header,
            "condenser_api.get_block_header": self.get_block_header_condenser,
            "account_history_api.get_ops_in_block": self.ops_in_block,
            "condenser_api.get_ops_in_block": self.ops_in_block_condenser,
            "database_api.get_version": self.version,
            "condenser_api.get_version": self.version,
        }

    # -- chain constants and state -------------------------------------------------
    def config(self, params: Any, state: State) -> bytes:
        return self._config

    def _dgp_bytes(self, state: State, condenser: bool) -> bytes:
        key = (state[0], state[1], condenser)
        cached = self._dgp_cache.get(key)
        if cached is None:
            d = dynamic_global_properties(self.node.store, *state)
            if condenser:
                d = value_to_condenser(d)
            cached = dumps(d)
            if len(self._dgp_cache) > 64:
                self._dgp_cache.clear()
            self._dgp_cache[key] = cached
        return cached

    def dgp(self, params: Any, state: State) -> bytes:
        return self._dgp_bytes(state, False)

    def dgp_condenser(self, params: Any, state: State) -> bytes:
        return self._dgp_bytes(state, True)

    def version(self, params: Any, state: State) -> bytes:
        return dumps(
            {
                "blockchain_version": "0.23.1",
                "steem_revision": "0" * 40,  # not a real build
                "fc_revision": "0" * 40,
                "chain_id": CHAIN_ID,
            }
        )

    # -- blocks --------------------------------------------------------------------
    def get_block(self, params: Any, state: State) -> bytes:
        i = self.node.index(num_param(params), state)
        return b"{}" if i is None else b'{"block":' + self.node.served(i, state) + b"}"

    def get_block_condenser(self, params: Any, state: State) -> bytes:
        i = self.node.index(num_param(params), state)
        return b"null" if i is None else self.node.served(i, state, condenser=True)

    def get_block_range(self, params: Any, state: State) -> bytes:
        start = num_param(params, "starting_block_num")
        count = num_param(params, "count")
        if count > MAX_BLOCK_RANGE:
            raise RpcError(-32003, f"Assert Exception:count <= {MAX_BLOCK_RANGE}: count too big")
        parts = []
        for num in range(start, start + max(0, count)):
            i = self.node.index(num, state)
            if i is None:
                if num - self.node.store.first > state[0]:
                    break
                continue
            parts.append(self.node.served(i, state))
        return b'{"blocks":[' + b",".join(parts) + b"]}"

    def _header(self, params: Any, state: State) -> dict[str, Any] | None:
        i = self.node.index(num_param(params), state)
        if i is None:
            return None
        b = json.loads(self.node.served(i, state))
        keys = ("previous", "timestamp", "witness", "transaction_merkle_root", "extensions")
        return {k: b[k] for k in keys if k in b}

    def get_block_header(self, params: Any, state: State) -> bytes:
        h = self._header(params, state)
        return b"{}" if h is None else dumps({"header": h})

    def get_block_header_condenser(self, params: Any, state: State) -> bytes:
        h = self._header(params, state)
        return b"null" if h is None else dumps(to_condenser(h))

    # -- operations ----------------------------------------------------------------
    def _ops(self, params: Any, state: State, condenser: bool) -> list[dict[str, Any]]:
        num = num_param(params)
        only_virtual = False
        if isinstance(params, dict):
            only_virtual = bool(params.get("only_virtual"))
        elif isinstance(params, list) and len(params) > 1:
            only_virtual = bool(params[1])
        i = self.node.index(num, state)
        if i is None or only_virtual:
            return []  # the archive has no virtual operations
        b = json.loads(self.node.served(i, state))
        out = []
        for t, tx in enumerate(b["transactions"]):
            for o, op in enumerate(tx["operations"]):
                out.append(
                    {
                        "trx_id": b["transaction_ids"][t],
                        "block": num,
                        "trx_in_block": t,
                        "op_in_trx": o,
                        "virtual_op": 0,
                        "timestamp": b["timestamp"],
                        "op": op_to_condenser(op) if condenser else op,
                    }
                )
        return out

    def ops_in_block(self, params: Any, state: State) -> bytes:
        return dumps({"ops": self._ops(params, state, False)})

    def ops_in_block_condenser(self, params: Any, state: State) -> bytes:
        return dumps(self._ops(params, state, True))
