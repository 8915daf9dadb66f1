"""Amounts and transfers as the broadcaster publishes them, and the line printed for one.

A node writes an amount either as a string, `"12.500 STEEM"` (condenser API), or as a
NAI object, `{"amount": "12500", "precision": 3, "nai": "@@000000021"}` (appbase API).
"""

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Self

from ipc_config.chain import ASSET_OF_NAI

ASSETS = ("STEEM", "SBD")  # the assets a transfer can carry
_AMOUNT_TEXT = re.compile(r"^(\d+(?:\.\d+)?) ([A-Z]+)$")
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class Amount:
    value: Decimal  # keeps the precision it was written with: 12.500
    asset: str

    @classmethod
    def parse(cls, raw: object) -> Self:
        """`"12.500 STEEM"` or a NAI object. Raises ValueError for anything else."""
        if isinstance(raw, str) and (found := _AMOUNT_TEXT.match(raw)):
            value, asset = Decimal(found.group(1)), found.group(2)
        elif isinstance(raw, dict) and raw.keys() == {"amount", "precision", "nai"}:
            digits, precision = raw["amount"], raw["precision"]
            if (
                not (isinstance(digits, str) and _DIGITS.match(digits))
                or type(precision) is not int
            ):
                raise ValueError(f"malformed NAI amount {raw!r}")
            value, asset = Decimal(digits).scaleb(-precision), ASSET_OF_NAI.get(raw["nai"], "")
        else:
            raise ValueError(f"{raw!r} is not an amount")
        if asset not in ASSETS:
            raise ValueError(f"{raw!r} is not an amount of {' or '.join(ASSETS)}")
        return cls(value, asset)

    def __str__(self) -> str:
        return f"{self.value:f} {self.asset}"


@dataclass(frozen=True)
class Transfer:
    sender: str
    receiver: str
    amount: Amount
    memo: str

    @classmethod
    def from_op(cls, op: dict[str, Any]) -> Self:
        """The body of a `transfer` operation. Raises KeyError or ValueError if malformed."""
        sender, receiver, memo = op["from"], op["to"], op.get("memo", "")
        if not all(isinstance(text, str) for text in (sender, receiver, memo)):
            raise ValueError(f"from {sender!r}, to {receiver!r}, memo {memo!r}: not all text")
        return cls(sender, receiver, Amount.parse(op["amount"]), memo)

    def line(self, block_num: int) -> str:
        """`transfer 12.500 STEEM alice -> bob "memo" (block 3286849)`, always one line."""
        # JSON quoting keeps a memo with quotes or newlines on one line; a lone surrogate
        # (possible in JSON text) would not encode, so it is written as \udXXX.
        memo = json.dumps(self.memo, ensure_ascii=False).encode("utf-8", "backslashreplace")
        return (
            f"transfer {self.amount} {self.sender} -> {self.receiver} "
            f"{memo.decode()} (block {block_num})"
        )
