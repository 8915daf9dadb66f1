"""Blocks as nodes send them, turned into what we publish.

Two shapes reach us: `block_api.get_block` (appbase) writes an operation as
`{"type": "comment_operation", "value": {...}}` and carries `block_id` and
`transaction_ids`; `condenser_api.get_block` and legacy nodes write `["comment", {...}]`,
and old nodes leave out the ids. Both become a `Block` of `Operation`s in chain order.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ipc_config import op_type_name
from ipc_config.chain import block_num_of


class BadBlock(ValueError):
    """A node sent something that is not the block we asked for."""


@dataclass(frozen=True, slots=True)
class Operation:
    type: str | None  # `comment`, `vote`...; None when the operation is malformed
    body: Any
    trx_index: int
    op_index: int
    trx_id: str
    problem: str = ""  # why the operation is malformed


@dataclass(frozen=True, slots=True)
class Block:
    num: int
    id: str
    previous: str
    timestamp: str
    operations: tuple[Operation, ...]


def parse_block(raw: Any, expected_num: int) -> Block:
    """Check that `raw` is block `expected_num` and list its operations in chain order."""
    if not isinstance(raw, dict) or not raw:
        raise BadBlock(f"block {expected_num}: empty answer ({_preview(raw)})")
    try:
        previous = raw["previous"]
        timestamp = raw["timestamp"]
        transactions = raw["transactions"]
        num = block_num_of(previous) + 1
    except (KeyError, TypeError, ValueError) as err:
        raise BadBlock(f"block {expected_num}: malformed header ({err!r})") from None
    if not isinstance(transactions, list):
        raise BadBlock(f"block {expected_num}: transactions is not a list")
    block_id = raw.get("block_id") or _stand_in_block_id(num, raw)
    if num != expected_num or block_num_of(block_id) != expected_num:
        raise BadBlock(f"asked for block {expected_num}, got block {num} ({block_id})")
    trx_ids = raw.get("transaction_ids") or []
    if trx_ids and len(trx_ids) != len(transactions):
        raise BadBlock(
            f"block {num}: {len(trx_ids)} transaction ids for {len(transactions)} transactions"
        )
    operations = []
    for trx_index, trx in enumerate(transactions):
        trx_id = trx_ids[trx_index] if trx_ids else _trx_id_of(trx)
        ops = trx.get("operations") if isinstance(trx, dict) else None
        if not isinstance(ops, list):
            raise BadBlock(f"block {num}: transaction {trx_index} has no operations list")
        for op_index, op in enumerate(ops):
            operations.append(_parse_operation(op, trx_index, op_index, trx_id))
    return Block(num, block_id, previous, timestamp, tuple(operations))


def _parse_operation(op: Any, trx_index: int, op_index: int, trx_id: str) -> Operation:
    if isinstance(op, dict) and set(op) == {"type", "value"}:
        raw_type, body = op["type"], op["value"]
    elif isinstance(op, list) and len(op) == 2:
        raw_type, body = op
    else:
        return Operation(
            None, op, trx_index, op_index, trx_id, "not [type, body] nor {type, value}"
        )
    try:
        op_type = op_type_name(raw_type)
    except ValueError as err:
        return Operation(None, op, trx_index, op_index, trx_id, str(err))
    return Operation(op_type, body, trx_index, op_index, trx_id)


def _trx_id_of(trx: Any) -> str:
    return trx.get("transaction_id", "") if isinstance(trx, dict) else ""


def _stand_in_block_id(num: int, raw: dict[str, Any]) -> str:
    """Legacy nodes omit the block id: use the number and a hash of the content instead.

    It is stable (the same block always gives the same id) and differs between two forks
    of one number, which is all a message id needs.
    """
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    return f"{num:08x}{digest[:32]}"


def _preview(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
