"""The node's clock: which blocks are visible (head) and irreversible (LIB), and since when."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Timeline"]


class Timeline:
    """Which blocks are visible (head) and irreversible (LIB), and since when.

    ``steps`` counts head advances. The unclamped head index is
    ``start_visible - 1 + steps``; the head is that clamped to the archive, the LIB is
    ``head - lag`` without the clamp (so once the head reached the end, the LIB keeps
    advancing one block per step until everything is irreversible), never below -1
    (i.e. first block - 1). ``behind`` shifts both down (a lagging node). Indexes are
    0-based positions in the archive; -1 means "before the first block".

    A ``growable`` timeline is never finished: the node appends blocks (:meth:`grow`)
    before advancing past its last one. ``on_advance(old head, new head)`` runs before a
    new state is published, so that readers never see a head without what it includes.
    """

    def __init__(
        self,
        n: int,
        start_visible: int,
        lag: int,
        behind: int = 0,
        growable: bool = False,
        on_advance: Callable[[int, int], None] | None = None,
    ):
        self.n = n
        self.growable = growable
        self.on_advance = on_advance
        self.start_visible = start_visible
        self.lag = lag
        self.behind = behind
        self.steps = -1
        self.state = (-1, -1)  # (head index, LIB index), replaced atomically
        self.head_at: list[float | None] = [None] * n
        self.irreversible_at: list[float | None] = [None] * n
        self._lock = threading.Lock()

    def indexes(self, steps: int) -> tuple[int, int]:
        top = self.start_visible - 1 + steps
        head = min(self.n - 1, top) - self.behind
        lib = min(self.n - 1, top - self.lag) - self.behind
        return max(-1, head), max(-1, min(lib, head))

    def apply(self, steps: int, now: float | None = None) -> tuple[int, int]:
        """Advance to ``steps`` (never backwards), recording when blocks changed state."""
        with self._lock:
            if steps <= self.steps:
                return self.state
            now = time.time() if now is None else now
            self.steps = steps
            head, lib = self.indexes(steps)
            old_head, old_lib = self.state
            if self.on_advance is not None:
                self.on_advance(old_head, head)
            for i in range(old_head + 1, head + 1):
                self.head_at[i] = now
            for i in range(old_lib + 1, lib + 1):
                self.irreversible_at[i] = now
            self.state = (head, lib)
            return self.state

    def grow(self, n: int) -> None:
        """The archive now has ``n`` blocks."""
        with self._lock:
            if n > self.n:
                self.head_at.extend([None] * (n - self.n))
                self.irreversible_at.extend([None] * (n - self.n))
                self.n = n

    @property
    def finished(self) -> bool:
        """Nothing left to advance (the LIB reached its final block)."""
        if self.growable:
            return False
        return self.state[1] >= self.indexes(self.n + self.lag + 1)[1]
