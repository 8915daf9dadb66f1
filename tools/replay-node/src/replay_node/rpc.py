"""JSON-RPC 2.0 as Steem nodes speak it: requests, batches, the legacy ``call`` form, and
errors in their shape. Handlers return the JSON bytes of ``result`` (or raise
:class:`RpcError`), so answers are assembled from bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .blocks import dumps

__all__ = ["KNOWN_APIS", "Dispatcher", "Handler", "RpcError", "error", "num_param"]

#: handler(params, (head index, LIB index)) -> JSON bytes of the result
Handler = Callable[[Any, tuple[int, int]], bytes]


class RpcError(Exception):
    """A JSON-RPC error answer; ``data`` is the steemd exception object, when there is one."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


# The APIs a full Steem node registers: a method of one of them that we do not serve is
# "Could not find method", anything else "Could not find API", as steemd words them.
KNOWN_APIS = frozenset(
    (
        "account_by_key_api",
        "account_history_api",
        "block_api",
        "condenser_api",
        "database_api",
        "follow_api",
        "jsonrpc",
        "market_history_api",
        "network_broadcast_api",
        "rc_api",
        "tags_api",
        "transaction_status_api",
        "witness_api",
    )
)


def error(id_bytes: bytes, code: int, message: str, data: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return b'{"jsonrpc":"2.0","error":' + dumps(body) + b',"id":' + id_bytes + b"}"


def num_param(params: Any, key: str = "block_num") -> int:
    """Block number from ``{"block_num": n}``, ``[n]`` or ``[{"block_num": n}]``."""
    value: Any = None
    if isinstance(params, dict):
        value = params.get(key)
    elif isinstance(params, list) and params:
        value = params[0]
        if isinstance(value, dict):
            value = value.get(key)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RpcError(-32602, f"Invalid parameters: expected {key}")
    return value


class Dispatcher:
    """Routes request bodies to the handlers of ``methods`` (``"api.method"`` -> handler)."""

    def __init__(self, methods: dict[str, Handler]):
        self.methods = methods

    def handle(
        self, body: bytes, state: tuple[int, int], internal_error: bool = False
    ) -> tuple[bytes, int]:
        """(response bytes, number of calls in the request)."""
        try:
            req = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            return error(b"null", -32700, f"Parse Error: {e}"), 0
        if internal_error:
            id_bytes = dumps(req.get("id")) if isinstance(req, dict) else b"null"
            return error(id_bytes, -32603, "Internal Error"), 0
        if isinstance(req, list):
            if not req:
                return error(b"null", -32600, "Invalid Request: empty batch"), 0
            return b"[" + b",".join(self.call(r, state) for r in req) + b"]", len(req)
        return self.call(req, state), 1

    def call(self, req: Any, state: tuple[int, int]) -> bytes:
        if not isinstance(req, dict):
            return error(b"null", -32600, "Invalid Request")
        id_bytes = dumps(req.get("id"))
        method = req.get("method")
        params = req.get("params")
        if not isinstance(method, str):
            return error(id_bytes, -32600, "Invalid Request: no method")
        if method == "call":
            if not (isinstance(params, list) and len(params) >= 2):
                return error(id_bytes, -32602, "Invalid parameters: call needs [api, method, args]")
            api, name = str(params[0]), str(params[1])
            params = params[2] if len(params) > 2 else []
        else:
            api, _, name = method.rpartition(".")
        handler = self.methods.get(f"{api}.{name}")
        if handler is None:
            if api and api not in KNOWN_APIS:
                msg = (
                    f"Assert Exception:api_itr != _registered_apis.end(): Could not find API {api}"
                )
            else:
                msg = (
                    "Assert Exception:method_itr != api_itr->second.end(): "
                    f"Could not find method {name}"
                )
            return error(id_bytes, -32601, msg)
        try:
            result = handler(params, state)
        except RpcError as e:
            return error(id_bytes, e.code, e.message, e.data)
        return b'{"jsonrpc":"2.0","result":' + result + b',"id":' + id_bytes + b"}"
