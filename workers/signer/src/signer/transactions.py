"""Building and signing one transaction offline, with beem's serialisation.

    ref = RefBlock(3286751, "003226df...")        # a recent irreversible block (TaPoS)
    signed = sign_transaction([["vote", {...}]], ref, "2016-07-17T23:17:09", key)
    signed.trx        # condenser JSON, as condenser_api.broadcast_transaction takes it
    signed.trx_id     # first 20 bytes of sha256 of the transaction without signatures

Steem signs sha256(chain id + serialised transaction); its chain id is 64 zeros
(beem's `known_chains["STEEM"]`). The transaction id leaves the signatures out, so
signing the same content again gives the same id; content with another expiration or
reference block is another transaction. TaPoS: `ref_block_num` is the low 16 bits of the
block number and `ref_block_prefix` the second 32-bit little-endian word of its id, as
steemd checks them (`block_id._hash[1]`).
"""

import struct
from binascii import unhexlify
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from signer.keys import Key

CHAIN = "STEEM"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


class CannotSign(ValueError):
    """The operations cannot make a transaction (beem cannot serialise them)."""


@dataclass(frozen=True)
class RefBlock:
    """The block a transaction refers to (TaPoS): it must be on the chain that includes it."""

    num: int
    id: str

    @property
    def ref_block_num(self) -> int:
        return self.num & 0xFFFF

    @property
    def ref_block_prefix(self) -> int:
        return struct.unpack_from("<I", unhexlify(self.id), 4)[0]


@dataclass(frozen=True)
class SignedTx:
    trx: dict[str, Any]
    trx_id: str
    expiration: str


def chain_seconds(timestamp: str) -> int:
    """`2016-07-17T23:16:09` (UTC, as the chain writes it) -> unix seconds."""
    return int(datetime.strptime(timestamp, TIME_FORMAT).replace(tzinfo=UTC).timestamp())


def chain_timestamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(TIME_FORMAT)


def expiration_after(head_time: str, seconds: int) -> str:
    when = datetime.strptime(head_time, TIME_FORMAT) + timedelta(seconds=seconds)
    return when.strftime(TIME_FORMAT)


def sign_transaction(
    operations: list[list[Any]], ref: RefBlock, expiration: str, key: Key
) -> SignedTx:
    """One transaction of `operations` (condenser form), signed with `key`."""
    from beembase.signedtransactions import Signed_Transaction
    from beemgraphenebase.types import Array, Signature

    try:
        tx = Signed_Transaction(
            ref_block_num=ref.ref_block_num,
            ref_block_prefix=ref.ref_block_prefix,
            expiration=expiration,
            operations=[list(op) for op in operations],  # beem wraps them in its Operation
        )
        tx.deriveDigest(CHAIN)  # tx.message: chain id + the serialised transaction
        message, trx_id = tx.message, tx.id
    except Exception as err:  # beem raises bare Exceptions, AssertionErrors, KeyErrors...
        reason = f"{type(err).__name__}: {err}"
        raise CannotSign(f"beem cannot serialise the operations ({reason})") from None
    tx.data["signatures"] = Array([Signature(key.sign(message))])
    return SignedTx(tx.json(), trx_id, expiration)
