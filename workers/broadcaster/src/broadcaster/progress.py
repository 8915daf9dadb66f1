"""Progress lines: every few seconds while catching up, once a minute at the head."""

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

CATCH_UP_EVERY = 5.0
AT_HEAD_EVERY = 60.0
BEHIND_THRESHOLD = 20  # blocks; fewer than this counts as "at the head"


class Progress:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._since = clock()
        self._blocks = 0
        self._ops = 0

    def block_done(self, block_num: int, op_count: int, target: int) -> None:
        self._blocks += 1
        self._ops += op_count
        behind = max(0, target - block_num)
        elapsed = self._clock() - self._since
        every = CATCH_UP_EVERY if behind >= BEHIND_THRESHOLD else AT_HEAD_EVERY
        if elapsed < every:
            return
        blocks_per_s = self._blocks / elapsed
        ops_per_s = self._ops / elapsed
        if behind >= BEHIND_THRESHOLD:
            eta = behind / blocks_per_s if blocks_per_s else float("inf")
            log.info(
                "catching up: block %d of %d (%d behind), %.0f blocks/s, %.0f ops/s, about %s left",
                block_num, target, behind, blocks_per_s, ops_per_s, _duration(eta),
            )  # fmt: skip
        else:
            log.info(
                "at the head: block %d, %d blocks and %d operations in the last %s",
                block_num, self._blocks, self._ops, _duration(elapsed),
            )  # fmt: skip
        self._since = self._clock()
        self._blocks = self._ops = 0


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "unknown time"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
