"""Saying it, at once and loudly, when the stream dropped messages a worker had not read.

    watch = await RetentionWatch.start(js, "bot", consumer_info, replicas=1, status=reporter)
    watch.fetched(messages)   # after every fetch (an empty list when nothing came)
    await watch.check()       # at start and every few seconds

The stream keeps messages for STREAM_MAX_AGE_HOURS and up to STREAM_MAX_BYTES; a worker
that was down longer, or fell that far behind, would find its next messages gone, and
JetStream would simply give it the oldest one left. The watch knows up to which stream
sequence the worker has read everything meant for it: the last message it was given, or
the stream's end while it had nothing left to read. When the stream's first sequence is
past that point, the messages in between were removed unread: it logs an error with how
many and from which sequence, and the worker's status report carries them for
`steem-status`. The point is kept in a key-value bucket, so a restart knows it too.
Messages of other subjects count among those removed: the stream cannot tell which of
them were the worker's.
"""

import contextlib
import json
import logging
import time

import nats.errors
import nats.js.errors
from ipc_config import POSITIONS_BUCKET, STREAM_NAME
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo, KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from steem_worker.connection import ensure_bucket
from steem_worker.status import StatusReporter

log = logging.getLogger(__name__)


async def positions_bucket(js: JetStreamContext, replicas: int) -> KeyValue:
    config = KeyValueConfig(
        bucket=POSITIONS_BUCKET, history=1, storage=StorageType.FILE, replicas=replicas
    )
    return await ensure_bucket(js, config)


class RetentionWatch:
    def __init__(
        self,
        js: JetStreamContext,
        worker: str,
        bucket: KeyValue,
        epoch: str,
        read_through: int,
        status: StatusReporter,
    ) -> None:
        self._js = js
        self._worker = worker
        self._bucket = bucket
        self._epoch = epoch  # the consumer's creation time: a new consumer, a new history
        self._read_through = read_through
        self._saved = read_through
        self._idle = False
        self._status = status
        self.missed = 0  # messages removed unread, since this process started

    @classmethod
    async def start(
        cls,
        js: JetStreamContext,
        worker: str,
        consumer: ConsumerInfo,
        replicas: int,
        status: StatusReporter,
    ) -> "RetentionWatch":
        """The watch, from the point kept by the last run (or what the consumer shows)."""
        bucket = await positions_bucket(js, replicas)
        epoch = str(consumer.created)
        kept = await _kept_point(bucket, worker, epoch)
        if kept is None and consumer.delivered.consumer_seq == 0:
            # A worker that never read anything cannot have missed what went before it.
            kept = (await js.stream_info(STREAM_NAME)).state.first_seq - 1
        point = max(kept or 0, consumer.ack_floor.stream_seq)
        return cls(js, worker, bucket, epoch, point, status)

    def fetched(self, messages: list[Msg]) -> None:
        """The server delivers in stream order: whatever came before the last message
        given was given too. An empty fetch means nothing was left to read."""
        self._idle = not messages
        if messages:
            self._read_through = max(self._read_through, messages[-1].metadata.sequence.stream)

    async def check(self) -> None:
        """Compare the point with the stream's first sequence; say so if messages are gone."""
        try:
            state = (await self._js.stream_info(STREAM_NAME)).state
        except (nats.errors.Error, TimeoutError) as err:
            log.debug("retention check: %r", err)
            return
        if self._idle:
            self._read_through = max(self._read_through, state.last_seq)
        if state.messages and state.first_seq > self._read_through + 1:
            self._report(self._read_through + 1, state.first_seq - 1)
            self._read_through = state.first_seq - 1
        await self._save()

    def _report(self, first: int, last: int) -> None:
        count = last - first + 1
        self.missed += count
        log.error(
            "MISSED %d stream messages, sequences %d to %d: the stream removed them before "
            "this worker read them (STREAM_MAX_AGE_HOURS, STREAM_MAX_BYTES); those on its "
            "subjects are lost",
            count, first, last,
        )  # fmt: skip
        self._status.update(
            missed={"messages": self.missed, "from_seq": first, "to_seq": last, "at": time.time()}
        )

    async def _save(self) -> None:
        if self._read_through == self._saved:
            return
        value = {"read_through": self._read_through, "epoch": self._epoch}
        with contextlib.suppress(nats.errors.Error, TimeoutError):
            await self._bucket.put(self._worker, json.dumps(value).encode())
            self._saved = self._read_through


async def _kept_point(bucket: KeyValue, worker: str, epoch: str) -> int | None:
    try:
        entry = await bucket.get(worker)
    except nats.js.errors.KeyNotFoundError:
        return None
    try:
        kept = json.loads(entry.value or b"{}")
    except ValueError:
        return None
    return int(kept["read_through"]) if kept.get("epoch") == epoch else None
