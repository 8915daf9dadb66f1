"""Which bytes a block number serves at a given moment.

The same block number can serve the archive's block, a fork's new branch once the head
has moved past it, the block after a fork (its ``previous`` relinked), a block with a
corrupted ``previous`` (a fault), nothing at all (a null-block fault, or not visible
yet), and any of these with the transactions the test chain included in it appended.
Everything the methods read about blocks goes through here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .blocks import dumps
from .comments import ARCHIVE, ChainView
from .fork import Fork
from .shapes import to_condenser

if TYPE_CHECKING:
    from .faults import Faults
    from .store import BlockStore
    from .testchain import TestChain

__all__ = ["Served"]

State = tuple[int, int]


class Served:
    def __init__(
        self,
        store: BlockStore,
        forks: list[Fork],
        after_fork: dict[int, tuple[bytes, bytes]],
        corrupt: dict[int, tuple[bytes, bytes]],
        faults: Faults,
        count: Callable[[str], None],
    ):
        self.store = store
        self.forks = forks
        self._after_fork = after_fork
        self._corrupt = corrupt
        self._special = bool(forks or corrupt)
        self.faults = faults
        self._count = count
        self._null_left: dict[int, int] = {}
        self._lock = threading.Lock()
        self.chain: TestChain | None = None  # set by the node: included transactions
        self._overlays: dict[tuple[int, bool, int], bytes] = {}
        self._tx_index: dict[str, list[int]] | None = None

    def index(self, num: int, state: State) -> int | None:
        """Archive index of block ``num`` if it is served now, else None."""
        i = num - self.store.first
        if i < 0 or i > state[0]:
            return None
        if num in self.faults.null_blocks:
            times = self.faults.null_blocks_times
            if times is None:
                self._count("null_block")
                return None
            with self._lock:
                left = self._null_left.get(num, times)
                if left > 0:
                    self._null_left[num] = left - 1
            if left > 0:
                self._count("null_block")
                return None
        return i

    def branch(self, i: int, state: State) -> int:
        """Which version of the block at archive index ``i`` is served now: ARCHIVE or
        k (fork k's new branch, 1-based)."""
        for k, fork in enumerate(self.forks, 1):
            if fork.covers(i) and fork.done(state[0]):
                return k
        return ARCHIVE

    def served(self, i: int, state: State, condenser: bool = False, count: bool = True) -> bytes:
        """The bytes of the block at archive index ``i`` as served now."""
        base = self._base(i, state, condenser, count)
        if self.chain is None or i not in self.chain.included:
            return base
        key = (i, condenser, hash(base))
        cached = self._overlays.get(key)
        if cached is None:
            cached = self._overlays[key] = self._with_included(i, base, condenser)
        return cached

    def _base(self, i: int, state: State, condenser: bool, count: bool) -> bytes:
        if self._special:
            shape = 1 if condenser else 0
            if i in self._corrupt:
                if count:
                    self._count("corrupt_previous")
                return self._corrupt[i][shape]
            k = self.branch(i, state)
            if k:
                fork = self.forks[k - 1]
                return (fork.condenser if condenser else fork.appbase)[i - fork.lo]
            if i in self._after_fork:
                return self._after_fork[i][shape]
        return self.store.condenser[i] if condenser else self.store.appbase[i]

    def _with_included(self, i: int, base: bytes, condenser: bool) -> bytes:
        """``base`` with the transactions the test chain included appended (and their ids)."""
        assert self.chain is not None
        block = json.loads(base)
        added = self.chain.transactions_at(i)
        ids = [r.trx.trx_id for r in self.chain.included.get(i, ())]
        if condenser:
            num, first = self.store.first + i, len(block["transactions"])
            txs = to_condenser({"transactions": added}, tx_extras=False)["transactions"]
            for k, tx in enumerate(txs):
                tx.update(transaction_id=ids[k], block_num=num, transaction_num=first + k)
            added = txs
        block["transactions"] = block["transactions"] + added
        block["transaction_ids"] = block["transaction_ids"] + ids
        return dumps(block)

    def block(self, i: int, state: State) -> dict[str, Any]:
        return json.loads(self._base(i, state, False, count=False))

    def block_id(self, i: int, state: State) -> str:
        k = self.branch(i, state)
        if k:
            fork = self.forks[k - 1]
            return fork.ids[i - fork.lo]
        return self.store.ids[i]

    def transaction_count(self, i: int, state: State) -> int:
        """Transactions of the block at ``i`` before those the test chain includes."""
        k = self.branch(i, state)
        if k:
            return len(
                json.loads(self.forks[k - 1].appbase[i - self.forks[k - 1].lo])["transactions"]
            )
        return len(self.store.tx_ids[i])

    def find_transaction(self, trx_id: str, state: State) -> int | None:
        """The number of the visible block that holds ``trx_id`` as served now, or None."""
        if self._tx_index is None:
            index: dict[str, list[int]] = {}
            for i, ids in enumerate(self.store.tx_ids):
                for t in ids:
                    index.setdefault(t, []).append(i)
            for fork in self.forks:
                for j, appbase in enumerate(fork.appbase):
                    for t in json.loads(appbase)["transaction_ids"]:
                        index.setdefault(t, []).append(fork.lo + j)
            self._tx_index = index
        for i in self._tx_index.get(trx_id, ()):
            if (
                i <= state[0]
                and trx_id in json.loads(self._base(i, state, False, False))["transaction_ids"]
            ):
                return self.store.first + i
        return None

    def comment_view(self, state: State) -> ChainView:
        """The chain as served in ``state``, for the comment index."""
        return ChainView(
            head=state[0],
            branch=lambda i: self.branch(i, state),
            timestamp=self.store.timestamps.__getitem__,
        )
