"""What this signer knows of the store, in memory: the records still to work on, the
recent inclusions (a fork may undo them), counts per account, and what it knows of each
signed transaction's broadcasts.

    view = View()
    view.remember(record)          # any value read or written; older revisions are ignored
    for record in view.todo(): ... # open records, oldest request first
    view.waiting_for(trx_id)       # the signed record a block's transaction id completes

Everything here can be rebuilt from the store: after a restart, `Flight`s start afresh
(a signed transaction is broadcast again at once: it may never have left).
"""

import math
from collections import OrderedDict
from dataclasses import dataclass

from signer.records import FAILED, INCLUDED, SIGNED, Counts, Record

RECENT_KEPT = 2000  # included records kept for forks (head mode drops a few blocks at most)


@dataclass
class Flight:
    """This process's knowledge of one signed transaction's broadcasts."""

    trx_id: str
    next_at: float = 0  # chain time of its next broadcast, until a node takes it
    accepted: bool = False  # a node took it, or may have: its pace slot is used
    check_after: int = 0  # taken: broadcast again once the stream is past this block
    said: str = ""  # the last broadcast result logged, so that a repeat is not logged

    def stop(self) -> None:
        self.next_at = math.inf
        self.check_after = 2**62


class View:
    def __init__(self) -> None:
        self.open: dict[str, Record] = {}  # not final, or final and not told yet
        self.recent: OrderedDict[str, Record] = OrderedDict()  # included and told
        self.by_trx: dict[str, str] = {}  # trx id -> key, of signed records
        self.counts = Counts()
        self.flights: dict[str, Flight] = {}

    def remember(self, record: Record) -> bool:
        """Take `record` as the latest value of its key, unless we know a later one."""
        key = record.key
        if record.revision <= self.counts.revision_of(key):
            return False
        self.counts.see(record)
        old = self.open.get(key) or self.recent.get(key)
        if old is not None and old.trx_id and self.by_trx.get(old.trx_id) == key:
            del self.by_trx[old.trx_id]
        self.open.pop(key, None)
        self.recent.pop(key, None)
        if record.state == SIGNED:
            self.by_trx[record.trx_id] = key
        if record.state in (INCLUDED, FAILED) and record.told:
            if record.state == INCLUDED:
                self.recent[key] = record
                while len(self.recent) > RECENT_KEPT:
                    self.recent.popitem(last=False)
        else:
            self.open[key] = record
        flight = self.flights.get(key)
        if flight is not None and (record.state != SIGNED or flight.trx_id != record.trx_id):
            del self.flights[key]
        return True

    def get(self, key: str) -> Record | None:
        return self.open.get(key) or self.recent.get(key)

    def todo(self) -> list[Record]:
        """Open records, the oldest request first (by the chain time it was asked at)."""
        return sorted(self.open.values(), key=lambda r: (r.asked_at, r.id))

    def waiting_for(self, trx_id: str) -> Record | None:
        key = self.by_trx.get(trx_id)
        record = self.open.get(key) if key else None
        return record if record is not None and record.state == SIGNED else None

    def included_in(self, block_ids: set[str]) -> list[Record]:
        """Included records whose block is among `block_ids`."""
        found = [r for r in self.recent.values() if r.block_id in block_ids]
        found += [r for r in self.open.values() if r.state == INCLUDED and r.block_id in block_ids]
        return found

    def flight(self, record: Record) -> Flight:
        flight = self.flights.get(record.key)
        if flight is None or flight.trx_id != record.trx_id:
            flight = self.flights[record.key] = Flight(record.trx_id)
        return flight
