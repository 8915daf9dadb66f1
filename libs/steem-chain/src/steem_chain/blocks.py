"""Blocks as nodes send them, turned into what we publish.

Two shapes reach us: `block_api.get_block` (appbase) writes an operation as
`{"type": "comment_operation", "value": {...}}` and carries `block_id` and
`transaction_ids`; `condenser_api.get_block` and legacy nodes write `["comment", {...}]`,
and old nodes leave out the ids. Both become a `Block` of `Operation`s in chain order.
A block's virtual operations (`account_history_api.get_ops_in_block`, either shape) become
its `virtual_ops`; what each `comment` did (created, edited, gone) is set on it from the
chain's answer about those comments (`with_comment_states`).
"""

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from ipc_config import op_type_name
from ipc_config.chain import block_num_of, comment_state


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
    comment: str | None = None  # a `comment`: created, edited or gone; None: not asked


@dataclass(frozen=True, slots=True)
class VirtualOperation:
    type: str | None  # `producer_reward`, `author_reward`...; None when malformed
    body: Any
    index: int  # its place among the block's virtual operations
    trx_id: str  # of the transaction that caused it; empty when none did
    problem: str = ""


@dataclass(frozen=True, slots=True)
class Block:
    num: int
    id: str
    previous: str
    timestamp: str
    operations: tuple[Operation, ...]
    virtual_ops: tuple[VirtualOperation, ...] = ()


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


_NO_TRANSACTION = "0" * 40


def parse_virtual_ops(answer: Any, num: int) -> tuple[VirtualOperation, ...]:
    """`account_history_api.get_ops_in_block` of block `num` (only virtual), in its order."""
    entries = answer.get("ops") if isinstance(answer, dict) else answer
    if not isinstance(entries, list):
        raise BadBlock(f"block {num}: virtual operations are not a list ({_preview(answer)})")
    found = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get("block", num) != num:
            raise BadBlock(f"block {num}: a virtual operation of another block: {_preview(entry)}")
        trx_id = entry.get("trx_id") or ""
        op = _parse_operation(entry.get("op"), 0, index, "")
        found.append(
            VirtualOperation(
                op.type, op.body, index, "" if trx_id == _NO_TRANSACTION else trx_id, op.problem
            )
        )
    return tuple(found)


def comment_keys(blocks: list[Block]) -> list[tuple[str, str]]:
    """(author, permlink) of every well-formed `comment` of the blocks, once each."""
    keys = {key: None for block in blocks for op in block.operations if (key := _key(op))}
    return list(keys)


def with_comment_states(
    blocks: list[Block], created: dict[tuple[str, str], str | None]
) -> list[Block]:
    """The blocks, each `comment` told created, edited or gone from `created`: the chain's
    creation time of each (author, permlink), None for those it no longer has."""
    out = []
    for block in blocks:
        ops = tuple(
            replace(op, comment=comment_state(op.body, created[key], block.timestamp))
            if (key := _key(op)) in created
            else op
            for op in block.operations
        )
        out.append(replace(block, operations=ops))
    return out


def _key(op: Operation) -> tuple[str, str] | None:
    if op.type != "comment" or not isinstance(op.body, dict):
        return None
    author, permlink = op.body.get("author"), op.body.get("permlink")
    return (author, permlink) if isinstance(author, str) and isinstance(permlink, str) else None


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
