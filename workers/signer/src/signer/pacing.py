"""Each account's pace, within the chain's limits, in chain time (head block timestamps).

    pacer = Pacer()
    if pacer.allows("alice", operations, head.time):   # sign and broadcast now
        ...
        pacer.sent("alice", operations, head.time)      # a node may have taken it
    pacer.too_early("alice", operations, head.time)     # refused for pace: a block later
    pacer.short_of_rc("alice", head.time)               # refused for RC: wait, growing

The limits are steemd's, checked against the head block's time when a node takes a
transaction (steem_evaluator.cpp): a vote when `now - last_vote_time >= 3`
(STEEM_MIN_VOTE_INTERVAL_SEC, so one per block), a root post when
`now - last_root_post > 300` (STEEM_MIN_ROOT_COMMENT_INTERVAL), a reply when
`now - last_post >= 3` (STEEM_MIN_REPLY_INTERVAL_HF20). The wall clock plays no part: a
node that is behind, a replay, a stalled chain all keep the chain's own pace. What this
process does not know (the account's activity before it started, another signer's
broadcasts) the node tells by refusing with TOO_EARLY, which only delays.

Resource credits come back slowly (a full recharge takes 5 days): after a refusal the
account waits 30 s of chain time, doubling to 10 min while refusals go on.
"""

import time
from dataclasses import dataclass, field
from typing import Any

from ipc_config.chain import BLOCK_INTERVAL

VOTE_INTERVAL = 3  # STEEM_MIN_VOTE_INTERVAL_SEC: now - last_vote_time >= 3
ROOT_POST_INTERVAL = 300  # STEEM_MIN_ROOT_COMMENT_INTERVAL: now - last_root_post > 300
REPLY_INTERVAL = 3  # STEEM_MIN_REPLY_INTERVAL_HF20: now - last_post >= 3
RC_WAIT_FIRST, RC_WAIT_MAX = 30, 600
ONE_BLOCK = int(BLOCK_INTERVAL)


def kinds_of(operations: list[Any]) -> set[str]:
    """The paced kinds of action among `operations`: vote, root_post, reply."""
    kinds = set()
    for op in operations:
        name, body = (op[0], op[1]) if isinstance(op, list | tuple) and len(op) == 2 else ("", {})
        if name == "vote":
            kinds.add("vote")
        elif name == "comment" and isinstance(body, dict):
            kinds.add("reply" if body.get("parent_author") else "root_post")
    return kinds


@dataclass
class _Account:
    next: dict[str, int] = field(default_factory=dict)  # kind -> earliest chain time
    rc_until: int = 0
    rc_wait: int = 0


class Pacer:
    def __init__(self) -> None:
        self._accounts: dict[str, _Account] = {}

    def _of(self, account: str) -> _Account:
        return self._accounts.setdefault(account, _Account())

    def ready_at(self, account: str, operations: list[Any]) -> int:
        """The chain time from which `account` may send `operations`."""
        state = self._accounts.get(account)
        if state is None:
            return 0
        times = [state.rc_until] + [state.next.get(kind, 0) for kind in kinds_of(operations)]
        return max(times)

    def allows(self, account: str, operations: list[Any], now: int) -> bool:
        return now >= self.ready_at(account, operations)

    def sent(self, account: str, operations: list[Any], now: int) -> None:
        """A transaction of `operations` may have reached a node at head time `now`."""
        state = self._of(account)
        kinds = kinds_of(operations)
        if "vote" in kinds:
            state.next["vote"] = now + VOTE_INTERVAL
        if "root_post" in kinds:
            state.next["root_post"] = now + ROOT_POST_INTERVAL + 1  # strictly more than 300
            state.next["reply"] = max(state.next.get("reply", 0), now + REPLY_INTERVAL)
        if "reply" in kinds:
            state.next["reply"] = now + REPLY_INTERVAL
        state.rc_wait = 0

    def too_early(self, account: str, operations: list[Any], now: int) -> None:
        """A node refused for pace (it knows of an action we do not): a block later."""
        state = self._of(account)
        for kind in kinds_of(operations) or {"vote"}:
            state.next[kind] = max(state.next.get(kind, 0), now + ONE_BLOCK)

    def short_of_rc(self, account: str, now: int) -> int:
        """A node refused for lack of RC: the seconds of chain time the account waits."""
        state = self._of(account)
        state.rc_wait = min(RC_WAIT_MAX, state.rc_wait * 2 if state.rc_wait else RC_WAIT_FIRST)
        state.rc_until = now + state.rc_wait
        return state.rc_wait


class BlockClock:
    """How long a block takes in wall-clock time, from the heads seen: when to look at
    the head again while actions wait for their turn. It only schedules those looks;
    every decision is made on the head's own time."""

    def __init__(self, guess: float = BLOCK_INTERVAL) -> None:
        self.per_block = guess
        self._last: tuple[float, int] | None = None

    def saw(self, num: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self._last is not None and num > self._last[1] and now - self._last[0] < 60:
            sample = (now - self._last[0]) / (num - self._last[1])
            self.per_block = 0.7 * self.per_block + 0.3 * sample
        if self._last is None or num > self._last[1]:
            self._last = (now, num)

    def next_look(self, lowest: float = 0.05, highest: float = 1.0) -> float:
        """Seconds until the next look: twice a block, so that a turn is seldom missed."""
        return min(highest, max(lowest, self.per_block / 2))
