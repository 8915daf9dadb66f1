"""Blocks as the node keeps and serves them: compact JSON, ids, normalisation.

Every record of an archive becomes an appbase block with ``block_id``, ``signing_key``
and ``transaction_ids`` (:func:`normalize_block`); what a record lacks is synthesised
from the record itself, so the same archive always gives the same ids.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ipc_config.chain import block_num_of

from .shapes import op_parts, op_to_appbase, to_appbase

__all__ = [
    "NOT_IN_A_TRANSACTION",
    "NO_TRANSACTION",
    "SIGNING_KEYS",
    "VIRTUAL_OPS",
    "block_num",
    "canonical_json",
    "dumps",
    "dumps_ascii",
    "normalize_block",
    "normalize_record",
    "normalize_virtual_ops",
    "signing_key_for",
    "synthetic_tx_id",
]


# An archive record may carry its block's virtual operations under this key (see
# normalize_virtual_ops); served blocks never do.
VIRTUAL_OPS = "virtual_ops"
NO_TRANSACTION = "0" * 40  # trx_id of a virtual operation that no transaction caused
NOT_IN_A_TRANSACTION = 0xFFFFFFFF  # its trx_in_block


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_ascii_encoder = json.JSONEncoder(separators=(",", ":"))


def dumps_ascii(obj: Any) -> bytes:
    return _ascii_encoder.encode(obj).encode()


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as the node serves it.

    A string holding a lone surrogate (an invalid ``"\\ud800"`` escape in the archive)
    cannot be UTF-8: the whole document is then written with ASCII escapes, so the node
    sends the escape on, as a real node relays what it was given.
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return dumps_ascii(obj)


def _hash_text(text: str) -> bytes:
    """UTF-8 bytes to hash; lone surrogates are kept (``surrogatepass``) instead of failing."""
    return text.encode("utf-8", "surrogatepass")


# Real signing keys of 2016 witnesses (from the mainnet fixtures), used when a block
# record has none (bare condenser blocks don't carry it).
SIGNING_KEYS: dict[str, str] = {
    "complexring": "STM6t7b3G3B5d81yoqqFdHzSPgvAHeZd1dZk4nq2CN57TM5pqi3vt",  # block 3286849
    "blocktrades": "STM7EKokr8mn9aCDFpJgm4LBgUjQnWx2aNwT7DnEZeArLLUKxkguq",  # block 5771683
    "joseph": "STM5EAojtkTNSGJgfsKkkstiNRQd2bKDmkBhXg97ZeZVHNh7Pxdyi",  # block 6531076
}
_KEY_POOL = tuple(SIGNING_KEYS.values())


def signing_key_for(witness: str) -> str:
    """A real-format signing key for ``witness`` (its real one if known, else a stable pick)."""
    key = SIGNING_KEYS.get(witness)
    if key is None:
        h = int(hashlib.sha256(witness.encode()).hexdigest(), 16)
        key = _KEY_POOL[h % len(_KEY_POOL)]
    return key


def block_num(block: dict[str, Any]) -> int:
    """Block number: from ``block_id`` if present, else ``previous`` + 1."""
    if block.get("block_id"):
        return block_num_of(block["block_id"])
    return block_num_of(block["previous"]) + 1


def _unwrap(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if "result" in obj and ("jsonrpc" in obj or "id" in obj):
        result = obj["result"]
        if isinstance(result, dict) and isinstance(result.get("block"), dict):
            result = result["block"]
        if not isinstance(result, dict) or not result:
            raise ValueError("JSON-RPC response without a block")
        obj = result
    if "previous" not in obj or "transactions" not in obj:
        raise ValueError("not a block (needs 'previous' and 'transactions')")
    return obj


def _is_normal(block: dict[str, Any]) -> bool:
    """Already a complete appbase block (nothing for :func:`normalize_block` to do)?"""
    if not (block.get("block_id") and block.get("signing_key") and "transaction_ids" in block):
        return False
    exts = block.get("extensions")
    if exts and any(isinstance(e, list) for e in exts):
        return False
    for tx in block["transactions"]:
        if not isinstance(tx, dict) or "transaction_id" in tx:
            return False
        for op in tx.get("operations", ()):
            parts = op_parts(op)
            if parts is not None and not (isinstance(op, dict) and parts[0].endswith("_operation")):
                return False  # a well-formed operation not in the appbase shape yet
    return True


def normalize_block(obj: Any) -> dict[str, Any]:
    """Any accepted record (appbase/condenser block or JSON-RPC response) -> appbase block
    with ``block_id``, ``signing_key`` and ``transaction_ids``, without the record's
    virtual operations.

    Missing ids are synthesised from the record as given: ``block_id`` = 8 hex digits of
    the block number + 32 hex of sha256(canonical JSON of the block); each transaction id
    = 40 hex of sha256(canonical JSON of the transaction). A missing ``signing_key`` is
    filled with a real-format key (see :func:`signing_key_for`).
    """
    return normalize_record(obj)[0]


def normalize_record(obj: Any) -> tuple[dict[str, Any], bool, list[dict[str, Any]]]:
    """(normalised block, whether ``obj`` itself was already that block, its normalised
    virtual operations)."""
    raw = _unwrap(obj)
    vops: list[dict[str, Any]] = []
    if VIRTUAL_OPS in raw:
        # Not part of the block: a node serves them apart (get_ops_in_block), and ids are
        # made from the block alone.
        raw = dict(raw)
        vops = normalize_virtual_ops(raw.pop(VIRTUAL_OPS))
    if _is_normal(raw):
        return raw, raw is obj, vops
    block = to_appbase(raw)
    if not block.get("block_id"):
        num = block_num_of(raw["previous"]) + 1
        digest = hashlib.sha256(_hash_text(canonical_json(raw))).hexdigest()
        block["block_id"] = f"{num:08x}{digest[:32]}"
    if not block.get("signing_key"):
        block["signing_key"] = signing_key_for(str(block.get("witness", "")))
    if "transaction_ids" not in block:
        block["transaction_ids"] = [synthetic_tx_id(tx) for tx in raw["transactions"]]
    return block, False, vops


def _is_appbase_op(op: Any) -> bool:
    # as _is_normal trusts a block whose operations are in the appbase shape
    return type(op) is dict and op.keys() == {"type", "value"} and op["type"].endswith("_operation")


def normalize_virtual_ops(entries: Any) -> list[dict[str, Any]]:
    """A record's ``virtual_ops`` -> entries ``{"trx_id", "trx_in_block", "op_in_trx",
    "virtual_op", "op"}`` with ``op`` in the appbase shape.

    An entry is either an operation (either shape), which no transaction caused (as a
    reward: steemd's sentinels ``trx_id`` zeros and ``trx_in_block`` 4294967295, its -1
    as an unsigned int), or a ``get_ops_in_block`` entry, whose location fields are kept.
    ``virtual_op`` counts the block's virtual operations from 1, as steemd does. Raises
    ValueError for anything else.
    """
    if not isinstance(entries, list):
        raise ValueError(f"{VIRTUAL_OPS} must be a list")
    out = []
    for n, entry in enumerate(entries, 1):
        where = entry if isinstance(entry, dict) and "op" in entry else {}
        op = entry["op"] if where else entry
        if op_parts(op) is None:
            raise ValueError(f"virtual operation {n} of the block is not an operation")
        out.append(
            {
                "trx_id": where.get("trx_id", NO_TRANSACTION),
                "trx_in_block": where.get("trx_in_block", NOT_IN_A_TRANSACTION),
                "op_in_trx": where.get("op_in_trx", 0),
                "virtual_op": where.get("virtual_op", n),
                "op": op if _is_appbase_op(op) else op_to_appbase(op),
            }
        )
    return out


def synthetic_tx_id(tx: dict[str, Any]) -> str:
    """Stable stand-in for a transaction id: 40 hex of sha256(canonical JSON of ``tx``)."""
    return hashlib.sha256(_hash_text(canonical_json(tx))).hexdigest()[:40]
