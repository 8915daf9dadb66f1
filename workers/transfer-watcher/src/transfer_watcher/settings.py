"""WATCH_ACCOUNTS and WATCH_MIN_AMOUNT, validated at start."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Self

from ipc_config import ConfigError

from transfer_watcher.transfers import ASSETS, Transfer

_ACCOUNT = re.compile(r"^[a-z0-9.-]{3,16}$")
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


@dataclass(frozen=True)
class WatchSettings:
    accounts: frozenset[str]  # empty: every account
    min_amount: MinAmount

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(_accounts(env, "WATCH_ACCOUNTS"), _min_amount(env, "WATCH_MIN_AMOUNT"))

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


def _accounts(env: Mapping[str, str], name: str) -> frozenset[str]:
    names = [part.strip() for part in env.get(name, "").split(",") if part.strip()]
    for account in names:
        if not _ACCOUNT.match(account):
            raise ConfigError(
                f"{name}: {account!r} is not a Steem account name "
                "(3 to 16 characters among a-z, 0-9, '.' and '-')"
            )
    return frozenset(names)


def _min_amount(env: Mapping[str, str], name: str) -> MinAmount:
    raw = env.get(name, "").strip()
    if not raw:
        return MinAmount(Decimal(0), None)
    found = _MIN_AMOUNT.match(raw)
    asset = found and found.group(2) and found.group(2).upper()
    if not found or (asset and asset not in ASSETS):
        raise ConfigError(
            f"{name}={raw!r} is not an amount: a number with up to 3 decimals, "
            f"optionally followed by {' or '.join(ASSETS)} (e.g. '10 STEEM' or '5.5')"
        )
    return MinAmount(Decimal(found.group(1)), asset or None)
