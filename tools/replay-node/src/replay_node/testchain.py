"""The test chain: transactions broadcast to the node, checked as steemd checks them,
kept in a mempool and included in the next block the node produces.

Checks, in steemd's order (``database::_apply_transaction``, then the evaluators): a
duplicate of a transaction in the mempool or in a block and not expired yet; signatures
against the authorities of the accounts the node serves (no missing, no unneeded
signature); TaPoS (``ref_block_num``/``ref_block_prefix`` name a block of the last 65,536
that the node serves); expiration (after the head block's time, at most 3,600 s after);
then the operations: a vote needs its comment at the head, at most one vote per voter per
3 s of head-block time (so one per block), neither the same weight again nor more than 5
changes; a post at most every 5 minutes, a reply every 3 s, an edit once per block.
Faults on demand: a share of accepted transactions never included (the same transaction
broadcast again is accepted again, and still never included), a share of answers lost
(the transaction is in, the client gets no answer), a share refused for lack of RC.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import steemd_errors as err
from .chain_config import parse_time
from .comments import INCLUDED
from .signatures import Transaction

if TYPE_CHECKING:
    from .node import ReplayNode

__all__ = ["LostAnswer", "Record", "TestChain"]

MAX_TIME_UNTIL_EXPIRATION = 3600  # STEEM_MAX_TIME_UNTIL_EXPIRATION
MIN_VOTE_INTERVAL = 3  # STEEM_MIN_VOTE_INTERVAL_SEC
MIN_ROOT_COMMENT_INTERVAL = 300  # STEEM_MIN_ROOT_COMMENT_INTERVAL
MIN_REPLY_INTERVAL = 3  # STEEM_MIN_REPLY_INTERVAL_HF20
MAX_VOTE_CHANGES = 5  # STEEM_MAX_VOTE_CHANGES


class LostAnswer(Exception):
    """The transaction was accepted, and its answer is to be lost on purpose."""


@dataclass
class Record:
    """A transaction the node accepted, and what became of it."""

    trx: Transaction
    accepted_head: int  # block number of the head when first accepted
    accepted_time: str = ""  # head-block time when last accepted (pacing counts from it)
    status: str = "within_mempool"  # then "included", "dropped" (a fault) or "expired"
    block_num: int | None = None
    trx_num: int | None = None
    broadcasts: int = 0
    answers_lost: int = 0
    never_included: bool = False
    expiration: int = field(init=False)

    def __post_init__(self) -> None:
        self.expiration = parse_time(self.trx.appbase["expiration"])

    def describe(self) -> dict[str, Any]:
        return {
            "trx_id": self.trx.trx_id,
            "status": self.status,
            "block_num": self.block_num,
            "trx_num": self.trx_num,
            "expiration": self.trx.appbase["expiration"],
            "accepted_at_block": self.accepted_head,
            "broadcasts": self.broadcasts,
            "answers_lost": self.answers_lost,
            "operations": self.trx.appbase["operations"],
        }


class TestChain:
    __test__ = False  # not a pytest class

    def __init__(self, node: ReplayNode):
        self.node = node
        self.faults = node.faults
        self.records: dict[str, Record] = {}
        self.mempool: list[Record] = []
        self.included: dict[int, list[Record]] = {}  # archive index -> appended transactions
        self.refused: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.closed = False

    # -- broadcasting ----------------------------------------------------------------
    def broadcast(self, trx: Transaction) -> Record:
        """Check and accept ``trx`` (raises the steemd error), or raise LostAnswer once it
        is accepted when the fault says so."""
        with self.cond:
            state = self.node.timeline.state
            try:
                record = self._accept(trx, state)
            except err.RpcError as e:
                head = self.node.store.first + state[0]
                self.refused.append({"trx_id": trx.trx_id, "head": head, "message": e.message})
                raise
            if self._draw("lose", trx.trx_id, record.broadcasts) < self.faults.lose_answer:
                record.answers_lost += 1
                self.node.count_fault("answer_lost")
                raise LostAnswer(trx.trx_id)
            return record

    def _accept(self, trx: Transaction, state: tuple[int, int]) -> Record:
        node, first = self.node, self.node.store.first
        now_s = node.head_time(state)
        now = parse_time(now_s)
        known = self.records.get(trx.trx_id)
        if known is not None and (
            known.status == "within_mempool"
            or (known.status == "included" and known.expiration > now)
        ):
            raise err.duplicate_transaction(trx.trx_id)
        self._check_authority(trx)
        ref_num, prefix = trx.appbase["ref_block_num"], trx.appbase["ref_block_prefix"]
        summary = node.tapos_prefix(ref_num, state)
        if summary != prefix:
            raise err.tapos(prefix, summary)
        expiration = parse_time(trx.appbase["expiration"])
        if expiration > now + MAX_TIME_UNTIL_EXPIRATION:
            data = {
                "trx.expiration": trx.appbase["expiration"],
                "now": now_s,
                "max_til_exp": MAX_TIME_UNTIL_EXPIRATION,
            }
            raise err.expired(data)
        if not now < expiration:
            raise err.expired({"now": now_s, "trx.exp": trx.appbase["expiration"]})
        self._check_operations(trx, state, now)
        if self._draw("rc", trx.trx_id, known.broadcasts if known else 0) < self.faults.refuse_rc:
            node.count_fault("rc_refused")
            account = sorted(trx.required["posting"] | trx.required["active"])[0]
            raise err.not_enough_rc(account, 1_234_567, 2_345_678_901)
        if known is None:
            known = self.records[trx.trx_id] = Record(trx, first + state[0])
            known.never_included = self._draw("drop", trx.trx_id, 0) < self.faults.drop_accepted
        known.status, known.accepted_time = "within_mempool", now_s
        known.broadcasts += 1
        self.mempool.append(known)
        return known

    def _check_authority(self, trx: Transaction) -> None:
        accounts, used = self.node.accounts, set()
        signers = set(trx.signers)
        if len(signers) != len(trx.signers):
            raise err.steemd_error(
                (3060000, "tx_duplicate_sig", "duplicate signature included"),
                "Duplicate Signature detected",
                {},
            )
        for role in ("posting", "active"):
            for name in sorted(trx.required[role]):
                if name not in accounts:
                    raise err.unknown_key({"name": name}, "get_account")
                key = accounts.keys[name]
                if key not in signers:
                    raise err.missing_authority(role, name, accounts.authority(name))
                used.add(key)
        if signers - used:
            raise err.irrelevant_signature()

    def _activity(self) -> tuple[dict, dict]:
        """(per account: last vote, post, root post and edit times as unix seconds; votes
        ``(voter, author, permlink) -> (weight, changes)``) of the included and pending
        transactions, in the order the node accepted them."""
        times: dict[str, dict[str, int]] = {}
        votes: dict[tuple[str, str, str], tuple[int, int]] = {}
        for r in self.records.values():
            if r.status not in ("included", "within_mempool"):
                continue
            when = parse_time(r.accepted_time)
            for name, v in r.trx.operations:
                if name == "vote":
                    key = (v["voter"], v["author"], v["permlink"])
                    old = votes.get(key)
                    votes[key] = (v["weight"], 0 if old is None else old[1] + 1)
                    times.setdefault(v["voter"], {})["last_vote_time"] = when
                elif name == "comment":
                    kind = "last_root_post" if not v.get("parent_author") else "last_post"
                    times.setdefault(v["author"], {})[kind] = when
                    times[v["author"]]["last_post"] = when
        return times, votes

    def account_activity(self) -> dict[str, dict[str, int]]:
        """Per account, the times of its last vote, post and root post (unix seconds)."""
        with self.cond:
            return self._activity()[0]

    def _check_operations(self, trx: Transaction, state: tuple[int, int], now: int) -> None:
        times, votes = self._activity()
        comments = self.node.store.comments
        view = self.node.comment_view(state)
        pending = {
            (v["author"], v["permlink"])
            for r in self.mempool
            for n, v in r.trx.operations
            if n == "comment"
        }

        def exists(key: tuple[str, str]) -> bool:
            return key in pending or bool(comments.find([key], view))

        for name, v in trx.operations:
            mine = times.setdefault(str(v.get("voter") or v.get("author")), {})
            if name == "vote":
                key = (v["author"], v["permlink"])
                if not exists(key):
                    raise err.unknown_key({"author": key[0], "permlink": key[1]})
                if now - mine.get("last_vote_time", 0) < MIN_VOTE_INTERVAL:
                    raise err.too_early(
                        "( now - voter.last_vote_time ).to_seconds() >= STEEM_MIN_VOTE_INTERVAL_SEC",
                        "Can only vote once every 3 seconds.",
                        {},
                    )
                old = votes.get((v["voter"], *key))
                if old is not None and (old[1] >= MAX_VOTE_CHANGES or old[0] == v["weight"]):
                    raise err.already_voted(changes_left=old[1] < MAX_VOTE_CHANGES)
                votes[(v["voter"], *key)] = (v["weight"], 0 if old is None else old[1] + 1)
                mine["last_vote_time"] = now
            elif name == "comment":
                key = (v["author"], v["permlink"])
                if exists(key):
                    if now - mine.get("last_post_edit", 0) < MIN_VOTE_INTERVAL:
                        raise err.too_early(
                            "now - auth.last_post_edit >= STEEM_MIN_COMMENT_EDIT_INTERVAL",
                            "Can only perform one comment edit per block.",
                            {},
                        )
                    mine["last_post_edit"] = now
                elif not v.get("parent_author"):
                    if now - mine.get("last_root_post", 0) <= MIN_ROOT_COMMENT_INTERVAL:
                        raise err.too_early(
                            "( now - auth.last_root_post ) > STEEM_MIN_ROOT_COMMENT_INTERVAL",
                            "You may only post once every 5 minutes.",
                            {},
                        )
                    mine["last_root_post"] = mine["last_post"] = now
                else:
                    parent = (v["parent_author"], v.get("parent_permlink", ""))
                    if not exists(parent):
                        raise err.unknown_key({"author": parent[0], "permlink": parent[1]})
                    if now - mine.get("last_post", 0) < MIN_REPLY_INTERVAL:
                        raise err.too_early(
                            "(now - auth.last_post) >= STEEM_MIN_REPLY_INTERVAL_HF20",
                            "You may only comment once every 3 seconds.",
                            {},
                        )
                    mine["last_post"] = now

    def _draw(self, kind: str, trx_id: str, attempt: int) -> float:
        """A number in [0, 1) fixed by the seed, the transaction and the attempt, so that a
        run meets the same faults whatever the order of requests."""
        digest = hashlib.sha256(f"{self.faults.seed}:{kind}:{trx_id}:{attempt}".encode()).digest()
        return int.from_bytes(digest[:7], "big") / 2**56

    def wait_included(self, record: Record) -> dict[str, Any]:
        """``broadcast_transaction_synchronous``: wait until a block includes the
        transaction, or its expiration passes the head (or the node stops)."""
        with self.cond:
            while record.status != "included" and not self.closed:
                state = self.node.timeline.state
                if parse_time(self.node.head_time(state)) >= record.expiration:
                    head = self.node.store.first + state[0]
                    return {
                        "id": record.trx.trx_id,
                        "block_num": head,
                        "trx_num": -1,
                        "expired": True,
                    }
                self.cond.wait(0.5)
            return {
                "id": record.trx.trx_id,
                "block_num": record.block_num or 0,
                "trx_num": record.trx_num or 0,
                "expired": record.status != "included",
            }

    # -- blocks ----------------------------------------------------------------------
    def on_advance(self, old_head: int, new_head: int) -> None:
        """The head moves from archive index ``old_head`` to ``new_head``: the mempool goes
        into block ``old_head + 1``, but for what never gets in and what expired."""
        if new_head <= old_head:
            return
        with self.cond:
            i, node = old_head + 1, self.node
            now = parse_time(node.time_of(old_head))  # steemd checks against the previous block
            taken = self.included.setdefault(i, [])
            base = node.blocks.transaction_count(i, (new_head, new_head))
            for record in self.mempool:
                if record.never_included:
                    record.status = "dropped"
                    node.count_fault("never_included")
                elif not now < record.expiration:
                    record.status = "expired"
                else:
                    record.status = "included"
                    record.block_num, record.trx_num = node.store.first + i, base + len(taken)
                    node.store.comments.add_transaction(i, INCLUDED, len(taken), record.trx.appbase)
                    taken.append(record)
            self.mempool.clear()
            if not taken:
                del self.included[i]
            self.cond.notify_all()

    def transactions_at(self, i: int) -> list[dict[str, Any]]:
        with self.cond:
            return [r.trx.appbase for r in self.included.get(i, ())]

    def find_transaction(
        self, trx_id: str, expiration: str | None, state: tuple[int, int]
    ) -> dict[str, Any]:
        """``transaction_status_api.find_transaction``, as transaction_status_api.cpp."""
        node, first = self.node, self.node.store.first
        with self.cond:
            record = self.records.get(trx_id)
            if record is not None and record.status == "within_mempool":
                return {"status": "within_mempool"}
            num = record.block_num if record is not None and record.status == "included" else None
        if num is None:
            num = node.blocks.find_transaction(trx_id, state)
        if num is not None and num <= first + state[0]:
            final = num <= first + state[1]
            return {"status": f"within_{'ir' if final else ''}reversible_block", "block_num": num}
        if expiration:
            when = parse_time(expiration)
            # steemd cannot tell about what expired within an hour after it began tracking
            # (here: the archive's first block), but this node knows what it accepted
            first_time = parse_time(node.time_of(0))
            if record is None and when < first_time + MAX_TIME_UNTIL_EXPIRATION:
                return {"status": "too_old"}
            if state[1] >= 0 and when <= parse_time(node.time_of(state[1])):
                return {"status": "expired_irreversible"}
            if when < parse_time(node.head_time(state)):
                return {"status": "expired_reversible"}
        return {"status": "unknown"}

    def describe(self) -> dict[str, Any]:
        """What ``GET /transactions`` shows: every accepted transaction, then refusals."""
        with self.cond:
            return {
                "transactions": [r.describe() for r in self.records.values()],
                "refused": list(self.refused),
            }

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
