"""Synthetic virtual operations, in the shapes and the order steemd produces them.

A block's virtual operations come after its transactions, in the order of
``database::_apply_block``: the ``producer_reward`` of its witness (``process_funds``),
then the payouts of the posts whose cashout time it reaches (``process_comment_cashout``:
for each post a ``curation_reward`` per upvoter, a ``comment_benefactor_reward`` per
beneficiary, ``author_reward`` and ``comment_reward``, none of them for a post without
upvotes, then ``comment_payout_update``), then vesting withdrawals
(``process_vesting_withdrawals``: ``fill_vesting_withdraw``). Fields are in the order of
``steem_virtual_operations.hpp``; amounts are NAI objects, as in blocks.

On mainnet a post is paid out 7 days after its creation; here ``payout_blocks`` after
it, so that an archive of a few hundred blocks holds payouts.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from .shapes import nai_amount

__all__ = ["VirtualOps"]

Key = tuple[str, str]


def _op(name: str, **value: Any) -> dict[str, Any]:
    return {"type": f"{name}_operation", "value": value}


class VirtualOps:
    """Schedules payouts as posts are made and votes cast, and writes each block's virtual
    operations; deterministic for a seed, with its own random stream (so that turning
    virtual operations on or off leaves the transactions of an archive as they are)."""

    def __init__(
        self,
        seed: int,
        names: Sequence[str],
        payout_blocks: int = 100,
        withdraw_share: float = 0.05,
    ):
        if payout_blocks < 1:
            raise ValueError("payout_blocks must be >= 1")
        self.rng = random.Random(f"virtual-ops:{seed}")
        self.names = names
        self.payout_blocks = payout_blocks
        self.withdraw_share = withdraw_share
        self._due: dict[int, list[Key]] = {}
        self._beneficiaries: dict[Key, list[dict[str, Any]]] = {}
        self._upvoters: dict[Key, list[str]] = {}
        self.made = 0  # virtual operations written so far

    def post_created(self, num: int, key: Key, beneficiaries: list[dict[str, Any]]) -> None:
        """A post created in block ``num``: paid out ``payout_blocks`` later."""
        self._due.setdefault(num + self.payout_blocks, []).append(key)
        self._beneficiaries[key] = beneficiaries
        self._upvoters[key] = []

    def voted(self, voter: str, key: Key, weight: int) -> None:
        upvoters = self._upvoters.get(key)
        if upvoters is not None and weight > 0 and voter not in upvoters:
            upvoters.append(voter)

    def for_block(self, num: int, witness: str) -> list[dict[str, Any]]:
        """The virtual operations of block ``num`` (appbase shape), in steemd's order."""
        ops = [_op("producer_reward", producer=witness, vesting_shares=self._vests(3e9, 16e9))]
        for key in self._due.pop(num, ()):
            ops.extend(self._payout(key))
        if self.rng.random() < self.withdraw_share:
            ops.append(self._withdrawal())
        self.made += len(ops)
        return ops

    def _vests(self, lo: float, hi: float) -> dict[str, Any]:
        return nai_amount(int(lo + self.rng.random() * (hi - lo)), "VESTS")

    def _payout(self, key: Key) -> list[dict[str, Any]]:
        author, permlink = key
        upvoters = self._upvoters.pop(key, [])
        beneficiaries = self._beneficiaries.pop(key, [])
        update = _op("comment_payout_update", author=author, permlink=permlink)
        if not upvoters:
            return [update]  # nothing to pay: steemd pays only positive rshares
        rng = self.rng
        ops = [
            _op(
                "curation_reward",
                curator=curator,
                reward=self._vests(1e6, 900e6),
                comment_author=author,
                comment_permlink=permlink,
            )
            for curator in upvoters
        ]
        sbd = int(rng.random() ** 3 * 40_000)  # 0.001 SBD units: mostly cents, some dollars
        for b in beneficiaries:
            share = sbd * b["weight"] // 10_000
            ops.append(
                _op(
                    "comment_benefactor_reward",
                    benefactor=b["account"],
                    author=author,
                    permlink=permlink,
                    sbd_payout=nai_amount(share // 2, "SBD"),
                    steem_payout=nai_amount(0, "STEEM"),
                    vesting_payout=nai_amount(share * 1000, "VESTS"),
                )
            )
        ops.append(
            _op(
                "author_reward",
                author=author,
                permlink=permlink,
                sbd_payout=nai_amount(sbd // 2, "SBD"),
                steem_payout=nai_amount(0, "STEEM"),
                vesting_payout=nai_amount(sbd * 1000, "VESTS"),
            )
        )
        ops.append(
            _op("comment_reward", author=author, permlink=permlink, payout=nai_amount(sbd, "SBD"))
        )
        ops.append(update)
        return ops

    def _withdrawal(self) -> dict[str, Any]:
        rng = self.rng
        account = self.names[int(rng.random() * len(self.names))]
        routed = rng.random() < 0.1
        to = self.names[int(rng.random() * len(self.names))] if routed else account
        withdrawn = int(1e6 + rng.random() ** 2 * 5e9)  # 1 to 5,000 VESTS a week
        return _op(
            "fill_vesting_withdraw",
            from_account=account,
            to_account=to,
            withdrawn=nai_amount(withdrawn, "VESTS"),
            deposited=nai_amount(withdrawn // 2000, "STEEM"),  # ~2,000 VESTS per STEEM in 2016
        )
