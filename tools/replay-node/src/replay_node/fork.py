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

from ipc_config.chain import block_num_of

from .blocks import synthetic_tx_id
from .store import BlockStore, both_shapes

__all__ = [
    "Fork",
    "PERMLINK_SUFFIX",
    "fork_block_id",
    "fork_branch",
    "plan_forks",
    "relinked_successors",
]

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
        num = block_num_of(block["block_id"])
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


def plan_forks(
    store: BlockStore, at: list[int], depth: int, lag: int, head_at_start: int
) -> list[Fork]:
    """Check the forks asked for at block numbers ``at`` and build their new branches.

    Irreversible blocks never change, so a fork may replace only blocks within the
    irreversible lag; it must also follow a block of the archive, be followed by one (the
    block that links the new branch back into the archive), come after the head at start
    (``head_at_start``, an archive index) and not touch another fork. Raises ValueError
    with the reason.
    """
    if not at:
        return []
    if depth < 1:
        raise ValueError("fork depth must be at least 1")
    if depth > lag:
        raise ValueError(
            f"fork depth {depth} is more than the irreversible lag {lag}: "
            "a fork may only replace blocks that are not irreversible yet"
        )
    forks: list[Fork] = []
    for num in at:
        lo, hi = num - depth + 1 - store.first, num - store.first
        if lo < 1:
            raise ValueError(
                f"fork at {num}: blocks {num - depth + 1}..{num} must follow a block of "
                f"the archive (its first block is {store.first})"
            )
        if hi >= len(store) - 1:
            raise ValueError(
                f"fork at {num}: the archive must go on after block {num} "
                f"(its last block is {store.last})"
            )
        if hi < head_at_start:
            raise ValueError(
                f"fork at {num}: the head is already at block {store.first + head_at_start} "
                "at start; a fork must come later"
            )
        if forks and lo <= forks[-1].hi + 1:
            raise ValueError(
                f"forks at {forks[-1].at} and {num} overlap: with depth {depth} they "
                f"must be at least {depth + 1} blocks apart"
            )
        old = [store.block(i) for i in range(lo, hi + 1)]
        branch = fork_branch(old, store.ids[lo - 1])
        fork = Fork(
            at=num,
            depth=depth,
            lo=lo,
            hi=hi,
            fork_point=(num - depth, store.ids[lo - 1]),
            abandoned=[(store.first + i, store.ids[i]) for i in range(lo, hi + 1)],
            ids=[b["block_id"] for b in branch],
        )
        for block in branch:
            appbase, condenser = both_shapes(block)
            fork.appbase.append(appbase)
            fork.condenser.append(condenser)
        forks.append(fork)
    return forks


def relinked_successors(store: BlockStore, forks: list[Fork]) -> dict[int, tuple[bytes, bytes]]:
    """The block after each fork, served with ``previous`` = the new branch's last id
    (archive index -> (appbase, condenser) bytes)."""
    out = {}
    for fork in forks:
        successor = store.block(fork.hi + 1)
        successor["previous"] = fork.ids[-1]
        out[fork.hi + 1] = both_shapes(successor)
    return out
