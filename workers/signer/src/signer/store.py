"""The signer's store: one record per request in the key-value bucket `steem_tx`.

    store = TxStore(js, writer="signer.1@host-12-ab12", replicas=1, stop=stop)
    await store.open()
    record = await store.create(Record.from_request(request))   # None: seen before
    record = await store.update(record, state=SIGNED, trx=...)  # None: someone else wrote
    for record in await store.changes(): ...                     # what anyone wrote since

Every write names the revision it replaces (`create`: none; `update`: the one read), so
of two signers writing the same record, one wins and the other learns it lost and reads
the winner's value: that is how two signers never sign one request twice. A write whose
answer is lost (nats-server killed, a timeout) may or may not have been stored: the key
is read again until NATS answers, and our own `writer` mark in the value tells. The
bucket is on disk with as many replicas as the streams, keeps one value per key (no
history) and no expiry: a request id once seen is remembered for good (JetStream's own
duplicate window is 2 minutes). A record holds the signed transaction, never a key.
"""

import asyncio
import contextlib
import itertools
import logging
from typing import Any

import nats.errors
from ipc_config import TX_BUCKET
from ipc_config.backoff import Backoff
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, KeyValue
from steem_worker.connection import ensure_bucket

from signer.records import Record

log = logging.getLogger(__name__)

_STREAM = f"KV_{TX_BUCKET}"
_PREFIX = f"$KV.{TX_BUCKET}."
_TIMEOUT = 5.0


class Stopping(Exception):
    """The process is stopping while the store waits for NATS."""


class TxStore:
    def __init__(
        self, js: JetStreamContext, writer: str, replicas: int, stop: asyncio.Event
    ) -> None:
        self._js = js
        self._writer = writer
        self._writes = itertools.count(1)
        self._replicas = replicas
        self._stop = stop
        self._kv: KeyValue | None = None
        self._next_seq = 1  # of the bucket's stream: where `changes` reads on

    async def open(self) -> None:
        config = KeyValueConfig(
            bucket=TX_BUCKET, history=1, storage=StorageType.FILE, replicas=self._replicas
        )
        self._kv = await self._until_answered(lambda: ensure_bucket(self._js, config))

    async def create(self, record: Record) -> Record | None:
        """Store a new record; None if the key exists already (a request seen before)."""
        mine = record.but(writer=self._mark())
        try:
            revision = await self._kv.create(record.key, mine.to_json())
            return mine.but(revision=revision)
        except KeyWrongLastSequenceError:
            return None
        except (TimeoutError, nats.errors.Error) as err:
            log.debug("create %s unanswered (%r); reading it back", record.key, err)
        found = await self.read(record.key)
        if found is not None and found.writer == mine.writer:
            return found  # ours was stored
        return None if found is not None else await self.create(record)

    async def update(self, record: Record, **changes: Any) -> Record | None:
        """Write `record` with `changes` if nobody wrote it since `record.revision`; None
        if somebody did (`read` gives their value)."""
        mine = record.but(**changes, writer=self._mark())
        while True:
            try:
                revision = await self._kv.update(record.key, mine.to_json(), last=record.revision)
                return mine.but(revision=revision)
            except KeyWrongLastSequenceError:
                found = await self.read(record.key)
                return found if found is not None and found.writer == mine.writer else None
            except (TimeoutError, nats.errors.Error) as err:
                log.debug("update %s unanswered (%r); reading it back", record.key, err)
            found = await self.read(record.key)
            if found is None or found.revision != record.revision:
                return found if found is not None and found.writer == mine.writer else None
            # still the revision we read: ours was not stored; write it again

    async def read(self, key: str) -> Record | None:
        """The record under `key` now (None: none), waiting for NATS as long as it takes."""

        async def get() -> Record | None:
            try:
                entry = await self._kv.get(key)
            except KeyNotFoundError:
                return None
            return Record.from_json(entry.value, entry.revision)

        return await self._until_answered(get)

    async def changes(self, limit: int = 1000) -> list[Record]:
        """Records written since the last call (every record, at the first call), in
        the order they were written; at most `limit` per call."""
        found: list[Record] = []
        while len(found) < limit:
            try:
                msg = await self._js.get_msg(
                    _STREAM, seq=self._next_seq, subject=_PREFIX + ">", next=True
                )
            except NotFoundError:
                break
            except (TimeoutError, nats.errors.Error) as err:  # NATS away: next time
                log.debug("store: reading changes: %r", err)
                break
            self._next_seq = msg.seq + 1
            if (msg.headers or {}).get(KV_OP) in (KV_DEL, KV_PURGE) or not msg.data:
                continue
            try:
                found.append(Record.from_json(msg.data, msg.seq))
            except (ValueError, TypeError) as err:
                log.warning("unreadable record %s: %s", msg.subject[len(_PREFIX) :], err)
        return found

    def _mark(self) -> str:
        return f"{self._writer}#{next(self._writes)}"

    async def _until_answered(self, call):  # noqa: ANN001, ANN202
        """`call()` again until NATS answers it (backing off), or Stopping."""
        backoff = Backoff(0.1, 2.0)
        while True:
            if self._stop.is_set():
                raise Stopping
            try:
                return await asyncio.wait_for(call(), _TIMEOUT)
            except (TimeoutError, nats.errors.Error) as err:
                log.debug("store: %r; trying again", err)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), backoff.next())
