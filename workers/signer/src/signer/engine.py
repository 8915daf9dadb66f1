"""The signer's loop: every open request, from received to included or failed.

    engine = Engine(settings, ring, nodes, store, view, outcomes, Identity.mine("signer"))
    await engine.run(stop)          # a pass per block, request or second, until stop
    await engine.saw_block(block)   # steem.block: the transactions it holds are in
    await engine.saw_fork(fork)     # steem.fork: what the abandoned blocks held is not

A pass reads what other signers wrote, the head (number, time, last irreversible
block), then steps each open request, oldest first:

- received: when the account's pace allows (chain time), claim it (a revision-checked
  write: one signer wins), sign it on the last irreversible block with an expiration of
  SIGNER_EXPIRATION seconds after the head's time, store it (revision-checked again:
  a claim taken over meanwhile loses the write, and its signature is never sent), then
  broadcast it.
- claimed by a process that is gone (same host, pid dead) or for longer than
  CLAIM_LEASE: claimed anew, as above.
- signed: until it expires, the same bytes are broadcast again whenever no answer came,
  and whenever the stream has seen two blocks after a node took it without it (the node
  may have lost it). Once an
  irreversible block is past the last block that could hold it, the node is asked
  (find_transaction, or its blocks): in a block: included; in none: signed anew, or
  failed if a node refused it for good meanwhile.
"""

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nats.errors
from steem_chain import NodeError, RequestRefused

from signer.keys import KeyProblem, KeyRing
from signer.node import UNDECIDED, Head, Nodes
from signer.outcomes import Outcomes
from signer.pacing import ONE_BLOCK, BlockClock, Pacer
from signer.records import CLAIMED, RECEIVED, SIGNED, Record
from signer.rejections import (
    ACCEPTED,
    DUPLICATE,
    EXPIRED,
    PERMANENT,
    RC,
    TAPOS,
    TOO_EARLY,
    Verdict,
    judge,
)
from signer.settings import SignerSettings
from signer.store import TxStore
from signer.transactions import CannotSign, chain_seconds, chain_timestamp, sign_transaction
from signer.view import Flight, View

log = logging.getLogger(__name__)

CLAIM_LEASE = 10.0  # wall-clock seconds: signing takes milliseconds once claimed
# A transaction a node took is broadcast again once the stream has seen this many blocks
# after it without it (the node may have lost it; in irreversible mode the stream follows
# the last irreversible block, so this adapts to its lag).
REBROADCAST_AFTER = 2
IDLE_PASS = 1.0  # wall-clock seconds between passes when no block or request wakes the loop


@dataclass(frozen=True)
class Identity:
    """Who writes: this process, told apart from its earlier runs and from other copies."""

    id: str
    host: str
    pid: int

    @classmethod
    def mine(cls, instance: str) -> "Identity":
        host, pid = socket.gethostname(), os.getpid()
        return cls(f"{instance}@{host}-{pid}-{secrets.token_hex(3)}", host, pid)

    def claim(self) -> dict[str, Any]:
        return {"by": self.id, "host": self.host, "pid": self.pid, "at": time.time()}


def pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError, OverflowError):
        return True  # someone else's process, or not a pid: assume alive
    return True


def last_possible_block(record: Record) -> int:
    """The last block that could hold the record's transaction: block k after the head
    it was signed on is at least 3k s later, and a block takes only what has not expired
    at its predecessor's time. One more for good measure."""
    seconds = chain_seconds(record.expiration) - chain_seconds(record.signed_head_time)
    return record.signed_head + -(-seconds // ONE_BLOCK) + 1


class Engine:
    def __init__(
        self,
        settings: SignerSettings,
        ring: KeyRing,
        nodes: Nodes,
        store: TxStore,
        view: View,
        outcomes: Outcomes,
        identity: Identity,
        report: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.ring = ring
        self.nodes = nodes
        self.store = store
        self.view = view
        self.outcomes = outcomes
        self.identity = identity
        self.pacer = Pacer()
        self.clock = BlockClock()
        self.wake = asyncio.Event()
        self.stream_block = 0  # the last block seen on steem.block
        self._report = report

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.wake.clear()
            try:
                await self.one_pass()
            except (TimeoutError, nats.errors.Error, NodeError, RequestRefused) as err:
                log.warning("pass interrupted (%s); trying again", err or type(err).__name__)
            self._report()
            # Open requests: look again about when the next block comes (a turn, an
            # expiration, an irreversible block may be due); else when something wakes us.
            busy = any(not record.final for record in self.view.open.values())
            waiting = [asyncio.ensure_future(e.wait()) for e in (self.wake, stop)]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.wait(waiting, return_when="FIRST_COMPLETED"),
                    self.clock.next_look() if busy else IDLE_PASS,
                )
            for task in waiting:
                task.cancel()

    async def one_pass(self) -> None:
        for record in await self.store.changes():
            fresh = self.view.remember(record)
            if fresh and record.state == SIGNED and not record.writer.startswith(self.identity.id):
                # Another signer's transaction takes the account's turn (pace) too.
                signed_at = chain_seconds(record.signed_head_time)
                self.pacer.sent(record.account, record.operations, signed_at)
        await self.outcomes.tell_pending()
        todo = [record for record in self.view.todo() if not record.final]
        if not todo:
            return
        head = await self.nodes.head()
        self.clock.saw(head.num)
        for record in todo:
            current = self.view.get(record.key)
            if current is None or current.revision != record.revision:
                continue  # a handler moved it on meanwhile
            if current.state == RECEIVED or (current.state == CLAIMED and self.stale(current)):
                await self.sign(current, head)
            elif current.state == SIGNED:
                await self.follow(current, head)

    def stale(self, record: Record) -> bool:
        claim = record.claim or {}
        if claim.get("by") == self.identity.id:
            return True  # ours, from a pass that was interrupted
        if claim.get("host") == self.identity.host and not pid_alive(claim.get("pid")):
            return True
        return time.time() - float(claim.get("at") or 0) > CLAIM_LEASE

    # -- received -> signed ------------------------------------------------------------

    async def sign(self, record: Record, head: Head) -> None:
        key = self.ring.key_for(record.account, record.authority)
        if key is None:
            reason = f"no key for @{record.account}'s {record.authority} authority"
            await self.outcomes.fail(record, reason)
            return
        if not self.pacer.allows(record.account, record.operations, head.time):
            return
        # The head again, fresh: the expiration counts from it, and a pass that waited
        # for a slow node may hold one from many blocks ago.
        head = await self.nodes.head()
        if not self.pacer.allows(record.account, record.operations, head.time):
            return
        ref = await self.nodes.ref_block(head.irreversible)
        if ref is None:
            return  # no irreversible block to refer to yet: next pass
        claimed = await self.write(record, state=CLAIMED, claim=self.identity.claim())
        if claimed is None:
            return
        expiration = chain_timestamp(head.time + self.settings.expiration)
        try:
            # ~30 ms of CPU with beem's signer: in a thread, so the handlers of requests and
            # blocks go on meanwhile (a pass signing many would otherwise let them go stale).
            signed = await asyncio.to_thread(
                sign_transaction, claimed.operations, ref, expiration, key
            )
        except (CannotSign, KeyProblem) as err:
            await self.outcomes.fail(claimed, str(err))
            return
        stored = await self.write(
            claimed,
            state=SIGNED,
            claim=None,
            attempt=claimed.attempt + 1,
            trx=signed.trx,
            trx_id=signed.trx_id,
            expiration=expiration,
            signed_head=head.num,
            signed_head_time=chain_timestamp(head.time),
            reason="",
        )
        if stored is None:
            log.info("%s was taken over while being signed; this signature is dropped", record.id)
            return
        attempt = f", attempt {stored.attempt}" if stored.attempt > 1 else ""
        log.info(
            "signed %s (%s) as trx %s, expiring %s%s",
            stored.id, stored.describe(), stored.trx_id, expiration, attempt,
        )  # fmt: skip
        await self.broadcast(stored, head)

    # -- signed -> included, failed or signed anew -------------------------------------

    async def follow(self, record: Record, head: Head) -> None:
        flight = self.view.flight(record)
        if head.time < chain_seconds(record.expiration):
            if record.reason:
                return  # refused for good: only the expiry check is left
            # Taken by a node: again once the blocks after it lack it (lost?).
            seen = not flight.accepted or self.stream_block >= flight.check_after
            if seen and head.time >= flight.next_at:
                await self.broadcast(record, head)
            return
        last = last_possible_block(record)
        if head.irreversible < last:
            return
        first = record.signed_head - 2
        where = await self.nodes.inclusion(record.trx_id, record.expiration, first, last)
        if where == UNDECIDED:
            return
        if where > 0:
            block = await self.nodes.block(where)
            if block is not None:
                await self.outcomes.include(record, where, block.id)
        elif record.reason:
            await self.outcomes.fail(record, record.reason)
        else:
            again = await self.write(
                record,
                state=RECEIVED,
                trx=None,
                trx_id="",
                expiration="",
                signed_head=0,
                signed_head_time="",
                expired=[*record.expired, record.trx_id],
            )
            if again is not None:
                log.info(
                    "re-signing %s: trx %s expired in no block (irreversible block %d)",
                    record.id, record.trx_id, head.irreversible,
                )  # fmt: skip

    async def broadcast(self, record: Record, head: Head) -> None:
        flight = self.view.flight(record)
        sent = await self.nodes.broadcast(record.trx)
        if sent.answer is None:
            self._may_be_in(record, flight, head, sent.maybe_sent)
            flight.next_at = head.time  # again at the next pass
            self._say(record, flight, Verdict("no answer", "no node answered; again"))
            return
        error = sent.answer.get("error")
        verdict = Verdict(ACCEPTED, "accepted") if error is None else judge(error)
        if verdict.kind in (ACCEPTED, DUPLICATE):
            if flight.accepted:
                verdict = Verdict(ACCEPTED, flight.said)  # nothing new to say
            self._may_be_in(record, flight, head, True)
            flight.check_after = max(head.num, self.stream_block) + REBROADCAST_AFTER
        elif verdict.kind == EXPIRED:
            flight.stop()  # the expiry check decides
        elif verdict.kind == TAPOS:
            flight.next_at = head.time + 2 * ONE_BLOCK
        elif verdict.kind == RC:
            wait = self.pacer.short_of_rc(record.account, head.time)
            flight.next_at = head.time + wait
            verdict = Verdict(RC, f"{verdict.reason}; @{record.account} waits {wait} s")
        elif verdict.kind == TOO_EARLY:
            self.pacer.too_early(record.account, record.operations, head.time)
            flight.next_at = self.pacer.ready_at(record.account, record.operations)
        elif verdict.kind == PERMANENT:
            await self.give_up(record, flight, verdict.reason)
        else:  # counted in the record: across signings and restarts, never without end
            errors = record.errors + 1
            if errors >= self.settings.max_errors:
                said = "1 error" if errors == 1 else f"{errors} errors"
                await self.give_up(record, flight, f"{verdict.reason} (after {said})", errors)
            else:
                await self.write(record, errors=errors)
                flight.next_at = head.time + ONE_BLOCK * 2**errors
        self._say(record, flight, verdict)

    async def give_up(self, record: Record, flight: Flight, reason: str, errors: int = 0) -> None:
        """Refused for good: no more broadcasts. Failed once certainly in no block (the
        same bytes may have reached a node before, or through another signer)."""
        flight.stop()
        if await self.write(record, reason=reason, errors=max(errors, record.errors)) is not None:
            log.warning("%s refused for good (%s); failed once it has expired", record.id, reason)

    def _may_be_in(self, record: Record, flight: Flight, head: Head, maybe: bool) -> None:
        if maybe and not flight.accepted:
            flight.accepted = True
            self.pacer.sent(record.account, record.operations, head.time)

    def _say(self, record: Record, flight: Flight, verdict: Verdict) -> None:
        if verdict.reason == flight.said:
            return
        flight.said = verdict.reason
        level = (
            logging.INFO if verdict.kind in (ACCEPTED, DUPLICATE, TOO_EARLY) else logging.WARNING
        )
        log.log(level, "broadcast %s (trx %s): %s", record.id, record.trx_id, verdict.reason)

    # -- what the stream says ----------------------------------------------------------

    async def saw_block(self, block: dict[str, Any]) -> None:
        self.stream_block = max(self.stream_block, int(block.get("block_num") or 0))
        for trx_id in block.get("transaction_ids") or ():
            record = self.view.waiting_for(trx_id)
            if record is not None:
                await self.outcomes.include(record, int(block["block_num"]), str(block["block_id"]))
        self.wake.set()

    async def saw_fork(self, fork: dict[str, Any]) -> None:
        abandoned = {
            str(b.get("block_id")) for b in fork.get("abandoned") or () if isinstance(b, dict)
        }
        for record in self.view.included_in(abandoned):
            back = await self.write(record, state=SIGNED, block_num=0, block_id="", told=False)
            if back is not None:
                log.warning(
                    "block %d, which held %s, was dropped by a fork; broadcasting trx %s again",
                    record.block_num, record.id, record.trx_id,
                )  # fmt: skip
        self.wake.set()

    async def write(self, record: Record, **changes: Any) -> Record | None:
        """`store.update`, remembered; None (and the winner's value remembered) if
        another write came first."""
        done = await self.store.update(record, **changes)
        if done is None:
            await self.outcomes.refresh(record.key)
            return None
        self.view.remember(done)
        return done
