"""The accounts the test chain serves, and the demo account whose key is published.

Only these accounts can sign: each has one public key for its owner, active and posting
authorities and its memo key (weight threshold 1). The demo account is always there; its
private key is in this file and in the README: it is a **test key**, known to everyone,
for offline runs and tests only. Other accounts of an archive exist as authors and
voters in its blocks, not as accounts with keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .chain_config import shift_time
from .shapes import nai_amount, value_to_condenser

__all__ = ["DEMO_ACCOUNT", "DEMO_PUBLIC_KEY", "DEMO_WIF", "Accounts"]

DEMO_ACCOUNT = "replay-demo"
# sha256("replay-node demo account: a published test key, never use it on a real chain")
# as a private key; tests/test_replay_test_chain.py checks that the two belong together.
DEMO_WIF = "5JrbFyUrWuAZhs1iJZVubDsTq4Sqd4cpyBbZwKYj34krHc1s6XK"
DEMO_PUBLIC_KEY = "STM61fumPJu5StDqsFmoaQpNygH5uiFUtfhdkHkCQu6Cqaxv4Bw2G"

ROLES = ("owner", "active", "posting")
EPOCH = "1970-01-01T00:00:00"


def _authority(key: str) -> dict[str, Any]:
    return {"weight_threshold": 1, "account_auths": [], "key_auths": [[key, 1]]}


class Accounts:
    """``name -> public key`` (``STM...``), the demo account included."""

    def __init__(self, keys: Mapping[str, str] | None = None):
        self.keys = {DEMO_ACCOUNT: DEMO_PUBLIC_KEY, **(keys or {})}
        for name, key in self.keys.items():
            if not (isinstance(key, str) and key.startswith("STM") and len(key) > 40):
                raise ValueError(f"account {name}: {key!r} is not a public key (STM...)")
        self._ids = {name: n for n, name in enumerate(sorted(self.keys), 1)}

    def __contains__(self, name: object) -> bool:
        return name in self.keys

    def authority(self, name: str) -> dict[str, Any]:
        """The account's authorities as steemd lists them in an error."""
        a = _authority(self.keys[name])
        return {"posting": a, "active": a, "owner": a}

    def key_references(self, keys: list[Any]) -> list[list[str]]:
        """``account_by_key_api.get_key_references``: the accounts of each key."""
        return [sorted(n for n, k in self.keys.items() if k == key) for key in keys]

    def find(
        self, names: list[Any], activity: Mapping[str, Mapping[str, str]], now: str
    ) -> list[dict[str, Any]]:
        """``database_api.find_accounts``: the known ones among ``names``, in that order.
        ``activity``: per account, the chain times of its last vote, post and root post."""
        return [self._object(n, activity.get(n, {}), now) for n in names if n in self.keys]

    def find_condenser(
        self, names: list[Any], activity: Mapping[str, Mapping[str, str]], now: str
    ) -> list[dict[str, Any]]:
        """``condenser_api.get_accounts``: the ``extended_account`` objects."""
        out = []
        for account in self.find(names, activity, now):
            legacy = value_to_condenser(account)
            legacy.update(
                voting_power=10000,
                vesting_balance="0.000 STEEM",
                reputation=0,
                transfer_history=[],
                market_history=[],
                post_history=[],
                vote_history=[],
                other_history=[],
                witness_votes=[],
                tags_usage=[],
                guest_bloggers=[],
            )
            # steemd's condenser api_account_object has no last_post_edit nor is_smt
            legacy.pop("last_post_edit")
            legacy.pop("is_smt")
            out.append(legacy)
        return out

    def _object(self, name: str, activity: Mapping[str, str], now: str) -> dict[str, Any]:
        """A database_api ``api_account_object``, in steemd's field order, with plausible
        balances (they are not kept: transfers do not move them)."""
        key = self.keys[name]
        full = {"current_mana": "1000000000000", "last_update_time": 1468797654}
        return {
            "id": self._ids[name],
            "name": name,
            "owner": _authority(key),
            "active": _authority(key),
            "posting": _authority(key),
            "memo_key": key,
            "json_metadata": "",
            "posting_json_metadata": "",
            "proxy": "",
            "last_owner_update": EPOCH,
            "last_account_update": EPOCH,
            "created": shift_time(now, -90 * 86400),
            "mined": False,
            "recovery_account": "steem",
            "last_account_recovery": EPOCH,
            "reset_account": "null",
            "comment_count": 0,
            "lifetime_vote_count": 0,
            "post_count": 0,
            "can_vote": True,
            "voting_manabar": full,
            "downvote_manabar": full,
            "balance": nai_amount(100_000, "STEEM"),
            "savings_balance": nai_amount(0, "STEEM"),
            "sbd_balance": nai_amount(10_000, "SBD"),
            "sbd_seconds": "0",
            "sbd_seconds_last_update": EPOCH,
            "sbd_last_interest_payment": EPOCH,
            "savings_sbd_balance": nai_amount(0, "SBD"),
            "savings_sbd_seconds": "0",
            "savings_sbd_seconds_last_update": EPOCH,
            "savings_sbd_last_interest_payment": EPOCH,
            "savings_withdraw_requests": 0,
            "reward_sbd_balance": nai_amount(0, "SBD"),
            "reward_steem_balance": nai_amount(0, "STEEM"),
            "reward_vesting_balance": nai_amount(0, "VESTS"),
            "reward_vesting_steem": nai_amount(0, "STEEM"),
            "vesting_shares": nai_amount(1_000_000_000_000, "VESTS"),
            "delegated_vesting_shares": nai_amount(0, "VESTS"),
            "received_vesting_shares": nai_amount(0, "VESTS"),
            "vesting_withdraw_rate": nai_amount(0, "VESTS"),
            "next_vesting_withdrawal": "1969-12-31T23:59:59",
            "withdrawn": 0,
            "to_withdraw": 0,
            "withdraw_routes": 0,
            "curation_rewards": 0,
            "posting_rewards": 0,
            "proxied_vsf_votes": [0, 0, 0, 0],
            "witnesses_voted_for": 0,
            "last_post": activity.get("last_post", EPOCH),
            "last_root_post": activity.get("last_root_post", EPOCH),
            "last_post_edit": activity.get("last_post_edit", EPOCH),
            "last_vote_time": activity.get("last_vote_time", EPOCH),
            "post_bandwidth": 0,
            "pending_claimed_accounts": 0,
            "is_smt": False,
        }
