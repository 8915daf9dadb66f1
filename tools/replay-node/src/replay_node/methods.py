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

__all__ = ["QUERY_LIMIT", "ReadMethods"]

QUERY_LIMIT = 1000  # DATABASE_API_SINGLE_QUERY_LIMIT
State = tuple[int, int]


class ReadMethods:
    """block_api, condenser_api, database_api and account_history_api reads.

    Only what Steem nodes offer: ``block_api`` has ``get_block`` and ``get_block_header``
    and no ``get_block_range`` (a Hive addition), so a client of this node cannot come to
    rely on a method that mainnet nodes refuse."""

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
            "block_api.get_block_header": self.get_block_header,
            "condenser_api.get_block_header": self.get_block_header_condenser,
            "account_history_api.get_ops_in_block": self.ops_in_block,
            "condenser_api.get_ops_in_block": self.ops_in_block_condenser,
            "database_api.find_comments": self.find_comments,
            "condenser_api.get_content": self.get_content,
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
    def _ops(self, params: Any, state: State, condenser: bool) -> bytes:
        """The JSON array of a block's operations: those of its transactions (unless
        ``only_virtual``) and its virtual operations, ordered as steemd orders them, by
        (trx_in_block, op_in_trx, virtual_op): virtual operations that no transaction
        caused (trx_in_block 4294967295) come last."""
        num = num_param(params)
        if isinstance(params, dict):
            only_virtual = bool(params.get("only_virtual"))
        else:
            only_virtual = isinstance(params, list) and len(params) > 1 and bool(params[1])
        i = self.node.index(num, state)
        if i is None:
            return b"[]"
        store = self.node.store
        vops = (store.vops_condenser if condenser else store.vops_appbase)[i]
        if only_virtual:
            return vops
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
        out.extend(json.loads(vops))
        out.sort(key=lambda e: (e["trx_in_block"], e["op_in_trx"], e["virtual_op"]))
        return dumps(out)

    def ops_in_block(self, params: Any, state: State) -> bytes:
        return b'{"ops":' + self._ops(params, state, False) + b"}"

    def ops_in_block_condenser(self, params: Any, state: State) -> bytes:
        return self._ops(params, state, True)

    # -- comments ------------------------------------------------------------------
    def find_comments(self, params: Any, state: State) -> bytes:
        pairs = params.get("comments") if isinstance(params, dict) else None
        if not isinstance(pairs, list) or not all(_is_pair(p) for p in pairs):
            raise RpcError(
                -32602, 'Invalid parameters: expected {"comments": [[author, permlink], ...]}'
            )
        if len(pairs) > QUERY_LIMIT:
            raise RpcError(
                -32003,
                "Assert Exception:args.comments.size() <= DATABASE_API_SINGLE_QUERY_LIMIT: ",
            )
        view = self.node.comment_view(state)
        found = self.node.store.comments.find([(a, p) for a, p in pairs], view)
        return dumps({"comments": found})

    def get_content(self, params: Any, state: State) -> bytes:
        if not (isinstance(params, list) and len(params) == 2 and _is_pair(params)):
            n = len(params) if isinstance(params, list) else 0
            raise RpcError(
                -32003, f"Assert Exception:args.size() == 2: Expected 2 argument(s), was {n}"
            )
        view = self.node.comment_view(state)
        return dumps(self.node.store.comments.content((params[0], params[1]), view))


def _is_pair(p: Any) -> bool:
    return isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
