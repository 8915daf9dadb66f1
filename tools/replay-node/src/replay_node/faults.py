"""Fault injection for reliability tests: what a request meets, deterministic for a seed.

Each POST request rolls the dice once, in the order requests arrive, so a seed fixes
which requests fail and how (:func:`fault_plan` tells it in advance).
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, field

__all__ = ["FAULT_KINDS", "FaultDice", "Faults", "corrupt_id", "fault_plan"]

FAULT_KINDS = (
    "http_503",
    "truncated",
    "rpc_error",
    "stall",
    "null_block",
    "corrupt_previous",
    "never_included",
    "answer_lost",
    "rc_refused",
)


@dataclass
class Faults:
    """Fault injection for reliability tests (deterministic for a given ``seed`` and
    request order). Shares are probabilities per HTTP POST request, but for broadcast
    transactions, drawn per transaction and attempt (see :mod:`replay_node.testchain`)."""

    fail_503: float = 0.0  # answer HTTP 503
    fail_truncate: float = 0.0  # send the JSON body cut in half
    fail_rpc_error: float = 0.0  # JSON-RPC error "Internal Error" for the whole request
    fail_stall: float = 0.0  # sleep stall_seconds before answering
    stall_seconds: float = 5.0
    null_blocks: frozenset[int] = field(default_factory=frozenset)  # get_block -> {} / null
    null_blocks_times: int | None = None  # how often per block (None: forever)
    behind: int = 0  # head and LIB reported this many blocks lower
    corrupt_previous: frozenset[int] = field(default_factory=frozenset)  # wrong `previous`
    # Broadcast transactions (drawn per transaction, see testchain.py):
    drop_accepted: float = 0.0  # accepted, never included
    lose_answer: float = 0.0  # accepted and included, the answer is lost
    refuse_rc: float = 0.0  # refused: not enough resource credits
    seed: int = 0

    def __post_init__(self) -> None:
        self.null_blocks = frozenset(int(n) for n in self.null_blocks)
        self.corrupt_previous = frozenset(int(n) for n in self.corrupt_previous)
        for name in (
            "fail_503",
            "fail_truncate",
            "fail_rpc_error",
            "fail_stall",
            "drop_accepted",
            "lose_answer",
            "refuse_rc",
        ):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.fail_503 + self.fail_truncate + self.fail_rpc_error > 1.0:
            raise ValueError("fail_503 + fail_truncate + fail_rpc_error must be <= 1")
        if self.behind < 0 or self.stall_seconds < 0:
            raise ValueError("behind and stall_seconds must be >= 0")


class FaultDice:
    """The per-request fault draws of a :class:`Faults`: the n-th POST request always gets
    the n-th draw, so a seed fixes which requests fail and how."""

    def __init__(self, faults: Faults):
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        f = self.faults
        return bool(f.fail_503 or f.fail_truncate or f.fail_rpc_error or f.fail_stall)

    def roll(self) -> tuple[bool, str | None]:
        """(stall first?, then "http_503", "truncated", "rpc_error" or None)."""
        f = self.faults
        with self._lock:
            stall = self._rng.random() < f.fail_stall if f.fail_stall else False
            u = self._rng.random()
        if u < f.fail_503:
            return stall, "http_503"
        if u < f.fail_503 + f.fail_truncate:
            return stall, "truncated"
        if u < f.fail_503 + f.fail_truncate + f.fail_rpc_error:
            return stall, "rpc_error"
        return stall, None


def fault_plan(faults: Faults, requests: int) -> list[str]:
    """What the first ``requests`` POST requests will meet: "stall" (whatever follows, a
    client with a shorter timeout gives up), "http_503", "truncated", "rpc_error" or "ok"."""
    dice = FaultDice(faults)
    plan = []
    for _ in range(requests):
        stall, fault = dice.roll()
        plan.append("stall" if stall else fault or "ok")
    return plan


def corrupt_id(num: int, previous: str) -> str:
    """A wrong `previous` for block ``num``: the right number, another hash."""
    digest = hashlib.sha256(f"replay-node:corrupt:{previous}".encode()).hexdigest()
    return f"{num - 1:08x}{digest[:32]}"
