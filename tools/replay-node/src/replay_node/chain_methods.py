"""The test chain's methods: broadcasting transactions, their status, and the accounts
that can sign them (``network_broadcast_api``, ``condenser_api``,
``transaction_status_api``, ``database_api``, ``account_by_key_api``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .blocks import dumps
from .chain_config import format_time
from .rpc import Handler, RpcError
from .signatures import UnsupportedOperation, read_transaction

if TYPE_CHECKING:
    from .node import ReplayNode

__all__ = ["ChainMethods"]

State = tuple[int, int]


class ChainMethods:
    def __init__(self, node: ReplayNode):
        self.node = node

    def table(self) -> dict[str, Handler]:
        return {
            "condenser_api.broadcast_transaction": self.broadcast_condenser,
            "condenser_api.broadcast_transaction_synchronous": self.broadcast_synchronous,
            "network_broadcast_api.broadcast_transaction": self.broadcast,
            "transaction_status_api.find_transaction": self.find_transaction,
            "database_api.find_accounts": self.find_accounts,
            "condenser_api.get_accounts": self.get_accounts,
            "account_by_key_api.get_key_references": self.key_references,
            "condenser_api.get_key_references": self.key_references_condenser,
        }

    # -- broadcasting ----------------------------------------------------------------
    def _accept(self, trx: Any):
        try:
            parsed = read_transaction(trx)
        except UnsupportedOperation as e:
            raise RpcError(-32000, f"replay-node: {e}") from e
        except ValueError as e:
            raise RpcError(-32602, f"Invalid parameters: {e}") from e
        return self.node.chain.broadcast(parsed)

    def broadcast(self, params: Any, state: State) -> bytes:
        """``{"trx": {...}, "max_block_age": -1}`` -> ``{}``."""
        if not isinstance(params, dict) or "trx" not in params:
            raise RpcError(
                -32602, 'Invalid parameters: expected {"trx": ..., "max_block_age": ...}'
            )
        age = params.get("max_block_age", -1)
        if isinstance(age, int) and age >= 0:
            # the head's time is that of a recorded block, always older than any age
            raise RpcError(-32003, "Assert Exception:!check_max_block_age( args.max_block_age ): ")
        self._accept(params["trx"])
        return b"{}"

    def broadcast_condenser(self, params: Any, state: State) -> bytes:
        """``[trx]`` -> ``{}``."""
        self._accept(_one(params))
        return b"{}"

    def broadcast_synchronous(self, params: Any, state: State) -> bytes:
        """``[trx]`` -> ``{"id", "block_num", "trx_num", "expired"}`` once included."""
        record = self._accept(_one(params))
        return dumps(self.node.chain.wait_included(record))

    def find_transaction(self, params: Any, state: State) -> bytes:
        """``{"transaction_id", "expiration"?}`` -> ``{"status", "block_num"?}``."""
        trx_id = params.get("transaction_id") if isinstance(params, dict) else None
        if not isinstance(trx_id, str):
            raise RpcError(
                -32602, 'Invalid parameters: expected {"transaction_id": ..., "expiration": ...}'
            )
        expiration = params.get("expiration")
        return dumps(self.node.chain.find_transaction(trx_id, expiration, state))

    # -- accounts --------------------------------------------------------------------
    def _find(self, names: Any, state: State, condenser: bool) -> list[dict[str, Any]]:
        if not isinstance(names, list):
            raise RpcError(-32602, "Invalid parameters: expected a list of account names")
        times = self.node.chain.account_activity()
        activity = {n: {k: format_time(t) for k, t in v.items()} for n, v in times.items()}
        now = self.node.head_time(state)
        accounts = self.node.accounts
        return (accounts.find_condenser if condenser else accounts.find)(names, activity, now)

    def find_accounts(self, params: Any, state: State) -> bytes:
        names = params.get("accounts") if isinstance(params, dict) else None
        return dumps({"accounts": self._find(names, state, False)})

    def get_accounts(self, params: Any, state: State) -> bytes:
        return dumps(self._find(_one(params), state, True))

    def key_references(self, params: Any, state: State) -> bytes:
        keys = params.get("keys") if isinstance(params, dict) else None
        if not isinstance(keys, list):
            raise RpcError(-32602, 'Invalid parameters: expected {"keys": [...]}')
        return dumps({"accounts": self.node.accounts.key_references(keys)})

    def key_references_condenser(self, params: Any, state: State) -> bytes:
        keys = _one(params)
        if not isinstance(keys, list):
            raise RpcError(-32602, "Invalid parameters: expected [[keys]]")
        return dumps(self.node.accounts.key_references(keys))


def _one(params: Any) -> Any:
    """The single argument of a condenser_api call (steemd's CHECK_ARG_SIZE( 1 ))."""
    if not isinstance(params, list) or len(params) != 1:
        n = len(params) if isinstance(params, list) else 0
        raise RpcError(
            -32003, f"Assert Exception:args.size() == 1: Expected 1 argument(s), was {n}"
        )
    return params[0]
