"""WATCH_ACCOUNTS and WATCH_MIN_AMOUNT: the transfer watcher's settings, checked at start."""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from ipc_config import WorkerSettings, setting
from ipc_config.chain import ACCOUNT_NAME
from ipc_config.settings import invalid
from pydantic import field_validator
from pydantic_settings import NoDecode

from transfer_watcher.transfers import ASSETS, Transfer

_MIN_AMOUNT = re.compile(r"^(\d+(?:\.\d{1,3})?)(?:\s*([A-Za-z]+))?$")


@dataclass(frozen=True)
class MinAmount:
    """At least `value` of `asset`; of any asset when `asset` is None."""

    value: Decimal
    asset: str | None

    def __str__(self) -> str:
        if not self.value:
            return f"of any amount of {self.asset}" if self.asset else "of any amount"
        return f"of at least {self.value} {self.asset or '(any asset)'}"


class WatchSettings(WorkerSettings):
    accounts: Annotated[frozenset[str], NoDecode] = setting(
        "WATCH_ACCOUNTS", "comma-separated Steem account names", frozenset()
    )  # empty: every account
    min_amount: MinAmount = setting("WATCH_MIN_AMOUNT", "an amount", MinAmount(Decimal(0), None))

    def watches(self, transfer: Transfer) -> bool:
        """To or from a watched account (any, if none is set), at or above the minimum."""
        minimum = self.min_amount
        return (
            (
                not self.accounts
                or not self.accounts.isdisjoint({transfer.sender, transfer.receiver})
            )
            and (minimum.asset is None or minimum.asset == transfer.amount.asset)
            and transfer.amount.value >= minimum.value
        )

    def describe(self) -> str:
        accounts = ", ".join(sorted(self.accounts)) if self.accounts else "every account"
        return f"transfers to or from {accounts}, {self.min_amount}"

    @field_validator("accounts", mode="before")
    @classmethod
    def _accounts(cls, raw: Any) -> frozenset[str]:
        if not isinstance(raw, str):
            return frozenset(raw)
        names = [part.strip() for part in raw.split(",") if part.strip()]
        for account in names:
            if not ACCOUNT_NAME.match(account):
                raise invalid(
                    f"WATCH_ACCOUNTS: {account!r} is not a Steem account name "
                    "(3 to 16 characters among a-z, 0-9, '.' and '-')"
                )
        return frozenset(names)

    @field_validator("min_amount", mode="before")
    @classmethod
    def _min_amount(cls, raw: Any) -> MinAmount:
        if isinstance(raw, MinAmount):
            return raw
        text = str(raw).strip()
        found = _MIN_AMOUNT.match(text)
        asset = found and found.group(2) and found.group(2).upper()
        if not found or (asset and asset not in ASSETS):
            raise invalid(
                f"WATCH_MIN_AMOUNT={text!r} is not an amount: a number with up to 3 decimals, "
                f"optionally followed by {' or '.join(ASSETS)} (e.g. '10 STEEM' or '5.5')"
            )
        return MinAmount(Decimal(found.group(1)), asset or None)
