"""The two shapes of Steem data, and conversion between them.

A Steem node answers ``block_api.get_block`` in the *appbase* shape (operations as
``{"type": "vote_operation", "value": {...}}``, amounts as NAI objects) and
``condenser_api.get_block`` in the *condenser* (legacy) shape (operations as
``["vote", {...}]``, amounts as strings like ``"0.080 SBD"``). Conversion keeps key order,
so both directions round-trip real mainnet records exactly; anything that is not a
well-formed operation is passed through unchanged, so an archive can hold one on purpose.
"""

from __future__ import annotations

import re
from typing import Any

from ipc_config.chain import ASSET_OF_NAI, NAI_OF_ASSET, PRECISION_OF_ASSET, block_num_of

__all__ = [
    "amount_to_nai",
    "amount_to_string",
    "nai_amount",
    "op_parts",
    "op_to_appbase",
    "op_to_condenser",
    "to_appbase",
    "to_condenser",
    "tx_to_appbase",
    "tx_to_condenser",
    "value_to_condenser",
]


_AMOUNT_RE = re.compile(r"^(-?)(\d+)\.(\d+) (STEEM|SBD|VESTS)$")
_NAI_KEYS = frozenset(("amount", "precision", "nai"))

# Free-text fields whose string values are never amounts, even if they look like one.
_TEXT_KEYS = frozenset(
    (
        "body",
        "title",
        "memo",
        "json",
        "json_metadata",
        "posting_json_metadata",
        "url",
        "data",
        "permlink",
        "parent_permlink",
        "id",
    )
)


def nai_amount(units: int, asset: str) -> dict[str, Any]:
    """An amount in the appbase shape: ``nai_amount(193255, "STEEM")`` is 193.255 STEEM."""
    return {
        "amount": str(units),
        "precision": PRECISION_OF_ASSET[asset],
        "nai": NAI_OF_ASSET[asset],
    }


def amount_to_nai(text: str) -> dict[str, Any] | None:
    """``"193.255 STEEM"`` -> ``{"amount": "193255", "precision": 3, "nai": "@@000000021"}``.

    Returns None if ``text`` is not an amount string with the symbol's exact precision.
    """
    m = _AMOUNT_RE.match(text)
    if m is None:
        return None
    sign, whole, frac, symbol = m.groups()
    nai, precision = NAI_OF_ASSET[symbol], PRECISION_OF_ASSET[symbol]
    if len(frac) != precision:
        return None
    value = int(whole + frac)
    return {"amount": (sign if value else "") + str(value), "precision": precision, "nai": nai}


def amount_to_string(obj: dict[str, Any]) -> str | None:
    """NAI object -> ``"193.255 STEEM"``; None if it is not a known NAI amount."""
    if obj.keys() != _NAI_KEYS:
        return None
    symbol = ASSET_OF_NAI.get(obj["nai"])
    if symbol is None:
        return None
    precision = PRECISION_OF_ASSET[symbol]
    if obj["precision"] != precision:
        return None
    try:
        value = int(obj["amount"])
    except (TypeError, ValueError):
        return None
    sign = "-" if value < 0 else ""
    digits = str(abs(value)).rjust(precision + 1, "0")
    return f"{sign}{digits[:-precision]}.{digits[-precision:]} {symbol}"


# Shape conversion

# static_variant members that are not operations: field name -> index-ordered type names
_VARIANTS: dict[str, tuple[str, ...]] = {
    # pow2_operation.work: pow2_work = static_variant<pow2, equihash_pow>
    "work": ("pow2", "equihash_pow"),
}
_COMMENT_OPTIONS_EXT = ("comment_payout_beneficiaries",)
_BLOCK_HEADER_EXT = (
    "void_t",
    "version",
    "hardfork_version_vote",
    "required_automated_actions",
    "optional_automated_actions",
)
_TX_EXTRAS = ("transaction_id", "block_num", "transaction_num")


def _value_to_appbase(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        if value.keys() == _NAI_KEYS:
            return dict(value)
        out = {}
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                v = _value_to_appbase(v, k)
            elif type(v) is str and " " in v and k not in _TEXT_KEYS:
                v = amount_to_nai(v) or v
            out[k] = v
        return out
    if isinstance(value, list):
        if (
            key in _VARIANTS
            and len(value) == 2
            and isinstance(value[0], int)
            and isinstance(value[1], dict)
        ):
            names = _VARIANTS[key]
            return {"type": names[value[0]], "value": _value_to_appbase(value[1])}
        out_list = []
        for v in value:
            if isinstance(v, (dict, list)):
                v = _value_to_appbase(v)
            elif type(v) is str and " " in v:
                v = amount_to_nai(v) or v
            out_list.append(v)
        return out_list
    if isinstance(value, str) and key not in _TEXT_KEYS and " " in value:
        return amount_to_nai(value) or value
    return value


def value_to_condenser(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        if value.keys() == _NAI_KEYS:
            text = amount_to_string(value)
            if text is not None:
                return text
        if key in _VARIANTS and value.keys() == {"type", "value"}:
            names = _VARIANTS[key]
            if value["type"] in names:
                return [names.index(value["type"]), value_to_condenser(value["value"])]
        out = {}
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                v = value_to_condenser(v, k)
            out[k] = v
        return out
    if isinstance(value, list):
        return [value_to_condenser(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def _ext_to_appbase(exts: list, names: tuple[str, ...]) -> list:
    out = []
    for e in exts:
        if isinstance(e, list) and len(e) == 2 and isinstance(e[0], int) and e[0] < len(names):
            out.append({"type": names[e[0]], "value": _value_to_appbase(e[1])})
        else:
            out.append(_value_to_appbase(e))
    return out


def _ext_to_condenser(exts: list, names: tuple[str, ...]) -> list:
    out = []
    for e in exts:
        if isinstance(e, dict) and e.keys() == {"type", "value"} and e["type"] in names:
            out.append([names.index(e["type"]), value_to_condenser(e["value"])])
        else:
            out.append(value_to_condenser(e))
    return out


def op_parts(op: Any) -> tuple[str, Any] | None:
    """(name, value) of ``["vote", {...}]`` or ``{"type": "vote_operation", "value": {...}}``;
    None for anything else (a malformed operation, served as it is)."""
    if isinstance(op, dict) and op.keys() == {"type", "value"} and isinstance(op["type"], str):
        return op["type"], op["value"]
    if isinstance(op, list) and len(op) == 2 and isinstance(op[0], str):
        return op[0], op[1]
    return None


def op_to_appbase(op: Any) -> Any:
    """``["comment", {...}]`` -> ``{"type": "comment_operation", "value": {...}}``.

    A malformed operation (neither shape) is returned unchanged, so that an archive can
    hold one to test how consumers cope with it.
    """
    parts = op_parts(op)
    if parts is None:
        return op
    name, value = parts
    if not name.endswith("_operation"):
        name += "_operation"
    value = _value_to_appbase(value)
    if (
        name == "comment_options_operation"
        and isinstance(value, dict)
        and isinstance(value.get("extensions"), list)
    ):
        value["extensions"] = _ext_to_appbase(value["extensions"], _COMMENT_OPTIONS_EXT)
    return {"type": name, "value": value}


def op_to_condenser(op: Any) -> Any:
    """``{"type": "comment_operation", "value": {...}}`` -> ``["comment", {...}]``
    (a malformed operation is returned unchanged)."""
    parts = op_parts(op)
    if parts is None:
        return op
    name, value = parts
    if name.endswith("_operation"):
        name = name[: -len("_operation")]
    value = value_to_condenser(value)
    if (
        name == "comment_options"
        and isinstance(value, dict)
        and isinstance(value.get("extensions"), list)
    ):
        value["extensions"] = _ext_to_condenser(value["extensions"], _COMMENT_OPTIONS_EXT)
    return [name, value]


def tx_to_appbase(tx: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in tx.items():
        if k == "operations":
            out[k] = [op_to_appbase(op) for op in v]
        elif k in _TX_EXTRAS:
            continue
        elif isinstance(v, (dict, list)):
            out[k] = _value_to_appbase(v, k)
        else:
            out[k] = v
    return out


def tx_to_condenser(tx: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in tx.items():
        if k == "operations":
            out[k] = [op_to_condenser(op) for op in v]
        elif isinstance(v, (dict, list)):
            out[k] = value_to_condenser(v, k) if v else type(v)()
        else:
            out[k] = v
    return out


def to_appbase(block: dict[str, Any]) -> dict[str, Any]:
    """Convert a block of either shape to the appbase (``block_api``) shape.

    Idempotent; keeps key order; drops the per-transaction ``transaction_id``,
    ``block_num`` and ``transaction_num`` that ``condenser_api.get_block`` adds (using
    them for ``transaction_ids`` if the block has none). Adds no ids of its own: see
    :func:`normalize_block`.
    """
    out: dict[str, Any] = {}
    for k, v in block.items():
        if k == "transactions":
            out[k] = [tx_to_appbase(tx) for tx in v]
        elif k == "extensions" and isinstance(v, list):
            out[k] = _ext_to_appbase(v, _BLOCK_HEADER_EXT)
        else:
            out[k] = v
    txs = block.get("transactions") or []
    if "transaction_ids" not in out and txs and all("transaction_id" in t for t in txs):
        out["transaction_ids"] = [t["transaction_id"] for t in txs]
    return out


def to_condenser(block: dict[str, Any], tx_extras: bool = True) -> dict[str, Any]:
    """Convert a block of either shape to the condenser (legacy) shape.

    Like ``condenser_api.get_block`` on a modern node, when the block has ``block_id``
    and ``transaction_ids`` each transaction gets ``transaction_id``, ``block_num`` and
    ``transaction_num`` (disable with ``tx_extras=False``).
    """
    out: dict[str, Any] = {}
    for k, v in block.items():
        if k == "transactions":
            out[k] = [tx_to_condenser(tx) for tx in v]
        elif k == "extensions" and isinstance(v, list):
            out[k] = _ext_to_condenser(v, _BLOCK_HEADER_EXT)
        else:
            out[k] = v
    ids = block.get("transaction_ids")
    if (
        tx_extras
        and "block_id" in block
        and ids is not None
        and len(ids) == len(out.get("transactions", ()))
    ):
        num = block_num_of(block["block_id"])
        for i, tx in enumerate(out["transactions"]):
            tx["transaction_id"] = ids[i]
            tx["block_num"] = num
            tx["transaction_num"] = i
    return out
