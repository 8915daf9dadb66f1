"""Micro-forks: another branch for the last few blocks, as a node in head mode sees them.

A fork at block N with depth K replaces blocks N-K+1..N by a branch of the same numbers
whose ids and content differ, linked from block N-K (the fork point); block N+1 then
follows the new block N. The new branch is derived deterministically from the old one:

- each block gets a new id (its number as 8 hex digits + 32 hex of a hash of the old id);
- the last transaction of a block with several is left out (it did not make it into the
  winning branch), so the set of operations differs;
- every ``permlink`` and ``parent_permlink`` in the remaining operations gets ``-fork``
  appended (so a new post of the old branch is another post in the new one), and the
  transactions changed that way get new ids.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any

from .archive import synthetic_tx_id

__all__ = ["Fork", "PERMLINK_SUFFIX", "fork_block_id", "fork_branch"]

PERMLINK_SUFFIX = "-fork"
_PERMLINK_KEYS = ("permlink", "parent_permlink")


def fork_block_id(num: int, old_id: str) -> str:
    """Id of block ``num`` on the new branch: stable, and never the old id."""
    digest = hashlib.sha256(f"replay-node:fork:{old_id}".encode()).hexdigest()
    return f"{num:08x}{digest[:32]}"


def _rename(value: Any) -> tuple[Any, bool]:
    """``value`` with ``-fork`` appended to its permlinks, and whether anything changed."""
    if not isinstance(value, dict):
        return value, False
    changed = False
    out = dict(value)
    for key in _PERMLINK_KEYS:
        if isinstance(out.get(key), str) and out[key]:
            out[key] += PERMLINK_SUFFIX
            changed = True
    return out, changed


def _fork_transaction(tx: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    tx = copy.deepcopy(tx)
    changed = False
    for i, op in enumerate(tx.get("operations", [])):
        if isinstance(op, dict) and op.keys() == {"type", "value"}:
            value, renamed = _rename(op["value"])
            if renamed:
                tx["operations"][i] = {"type": op["type"], "value": value}
                changed = True
    return tx, changed


def fork_branch(old: list[dict[str, Any]], fork_point_id: str) -> list[dict[str, Any]]:
    """The new branch replacing the (appbase, normalised) blocks ``old``, which follow the
    block whose id is ``fork_point_id``."""
    branch = []
    previous = fork_point_id
    for block in old:
        num = int(block["block_id"][:8], 16)
        transactions = list(block["transactions"])
        ids = list(block["transaction_ids"])
        if len(transactions) > 1:
            transactions, ids = transactions[:-1], ids[:-1]
        new_txs, new_ids = [], []
        for tx, tx_id in zip(transactions, ids, strict=True):
            forked, changed = _fork_transaction(tx)
            new_txs.append(forked)
            new_ids.append(synthetic_tx_id(forked) if changed else tx_id)
        new = dict(block)
        new["previous"] = previous
        new["transactions"] = new_txs
        new["transaction_ids"] = new_ids
        new["block_id"] = fork_block_id(num, block["block_id"])
        branch.append(new)
        previous = new["block_id"]
    return branch


@dataclass
class Fork:
    """One planned fork: at block ``at`` (the last replaced block), ``depth`` blocks deep.

    ``lo``/``hi`` are the archive indexes of the replaced blocks; ``appbase``/``condenser``
    the served bytes of the new branch, ``ids`` its block ids. The fork is *done* once the
    head has moved past ``at``: from then on the node serves the new branch.
    """

    at: int
    depth: int
    lo: int
    hi: int
    fork_point: tuple[int, str]
    abandoned: list[tuple[int, str]]
    ids: list[str] = field(default_factory=list)
    appbase: list[bytes] = field(default_factory=list)
    condenser: list[bytes] = field(default_factory=list)

    @property
    def new_branch(self) -> list[tuple[int, str]]:
        first = self.at - self.depth + 1
        return [(first + k, block_id) for k, block_id in enumerate(self.ids)]

    def covers(self, index: int) -> bool:
        return self.lo <= index <= self.hi

    def done(self, head_index: int) -> bool:
        return head_index > self.hi

    def describe(self, head_index: int) -> dict[str, Any]:
        """What ``GET /status`` shows, in the shape of a ``steem.fork`` message."""

        def ref(num: int, block_id: str) -> dict[str, Any]:
            return {"block_num": num, "block_id": block_id}

        return {
            "at": self.at,
            "depth": self.depth,
            "done": self.done(head_index),
            "fork_point": ref(*self.fork_point),
            "abandoned": [ref(*a) for a in self.abandoned],
            "new_branch": [ref(num, block_id) for num, block_id in self.new_branch],
        }
