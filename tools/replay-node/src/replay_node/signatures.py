"""Reading a broadcast transaction: its id, the keys that signed it and the authorities
it needs. The cryptography is beem's (``beembase``/``beemgraphenebase``), the library the
broadcaster and the signer use; only the operations below are taken."""

from __future__ import annotations

import copy
from binascii import unhexlify
from typing import Any, NamedTuple

from beembase.signedtransactions import Signed_Transaction
from beemgraphenebase.account import PublicKey
from beemgraphenebase.ecdsasig import verify_message

from .chain_config import CHAIN_ID
from .shapes import op_parts, tx_to_appbase

__all__ = ["REQUIRED_AUTHORITY", "Transaction", "UnsupportedOperation", "read_transaction"]

_FIELDS = (
    "ref_block_num",
    "ref_block_prefix",
    "expiration",
    "operations",
    "extensions",
    "signatures",
)
_STEEM = {"chain_id": CHAIN_ID, "prefix": "STM"}

# operation -> (authority, fields naming the accounts that must sign), from the
# get_required_*_authorities of steem_operations.hpp; custom_json is handled apart.
REQUIRED_AUTHORITY: dict[str, tuple[str, tuple[str, ...]]] = {
    "vote": ("posting", ("voter",)),
    "comment": ("posting", ("author",)),
    "comment_options": ("posting", ("author",)),
    "delete_comment": ("posting", ("author",)),
    "claim_reward_balance": ("posting", ("account",)),
    "transfer": ("active", ("from",)),
    "transfer_to_vesting": ("active", ("from",)),
    "withdraw_vesting": ("active", ("account",)),
    "transfer_to_savings": ("active", ("from",)),
    "transfer_from_savings": ("active", ("from",)),
    "cancel_transfer_from_savings": ("active", ("from",)),
    "delegate_vesting_shares": ("active", ("delegator",)),
    "account_witness_vote": ("active", ("account",)),
    "account_witness_proxy": ("active", ("account",)),
    "convert": ("active", ("owner",)),
    "limit_order_create": ("active", ("owner",)),
    "limit_order_cancel": ("active", ("owner",)),
    "feed_publish": ("active", ("publisher",)),
    "set_withdraw_vesting_route": ("active", ("from_account",)),
}


class UnsupportedOperation(ValueError):
    """An operation this test chain does not take."""


class Transaction(NamedTuple):
    trx_id: str
    appbase: dict[str, Any]  # as the node includes it in a block
    operations: list[tuple[str, dict[str, Any]]]  # (name without _operation, value)
    signers: list[str]  # public keys (STM...) recovered from the signatures, in order
    required: dict[str, set[str]]  # authority ("posting", "active") -> accounts


def read_transaction(trx: Any) -> Transaction:
    """Parse ``trx`` (condenser or appbase shape), compute its id (sha256 of the serialised
    transaction without signatures, first 20 bytes) and recover its signers. Raises
    :class:`UnsupportedOperation` or ValueError with the reason."""
    if not isinstance(trx, dict) or not isinstance(trx.get("operations"), list):
        raise ValueError(
            "a transaction needs ref_block_num, ref_block_prefix, expiration, operations, signatures"
        )
    operations: list[tuple[str, dict[str, Any]]] = []
    required: dict[str, set[str]] = {"posting": set(), "active": set()}
    for op in trx["operations"]:
        parts = op_parts(op)
        if parts is None or not isinstance(parts[1], dict):
            raise ValueError(f"not an operation: {op!r}"[:200])
        name, value = parts[0].removesuffix("_operation"), parts[1]
        if name == "custom_json":
            required["active"].update(value.get("required_auths") or ())
            required["posting"].update(value.get("required_posting_auths") or ())
        elif name in REQUIRED_AUTHORITY:
            role, fields = REQUIRED_AUTHORITY[name]
            required[role].update(str(value.get(f)) for f in fields)
        else:
            raise UnsupportedOperation(f"the test chain does not take {name} operations")
        operations.append((name, value))
    try:
        signed = Signed_Transaction(**copy.deepcopy({k: trx[k] for k in _FIELDS if k in trx}))
        trx_id = signed.id
        signed.deriveDigest(_STEEM)
        signers = [
            format(PublicKey(_recover(signed.message, s), prefix="STM"), "STM")
            for s in trx.get("signatures") or ()
        ]
    except (KeyError, TypeError, ValueError, AssertionError) as e:
        raise ValueError(f"cannot read the transaction: {e}") from e
    except Exception as e:  # beem raises bare Exception for what it cannot serialise
        raise ValueError(f"cannot read the transaction: {e}") from e
    appbase = tx_to_appbase({k: trx[k] for k in _FIELDS if k in trx})
    appbase.setdefault("extensions", [])
    appbase.setdefault("signatures", [])
    return Transaction(trx_id, appbase, operations, signers, required)


def _recover(message: bytes, signature_hex: str) -> str:
    """The compressed public key (hex) that made ``signature_hex`` over ``message``."""
    key = verify_message(message, unhexlify(signature_hex))
    if key is None:
        raise ValueError("a signature has no recovery parameter")
    return key.hex()
