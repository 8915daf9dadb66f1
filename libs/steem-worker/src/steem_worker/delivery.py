"""The rules that keep a worker from handling one message twice.

JetStream gives a message to a consumer for `ack_wait` seconds; if no ack reaches the
server by then, the message goes out again (to this copy of the worker or another). So a
message is handled twice when its ack is lost, or when it is handled after its time ran
out. Each piece here closes one of those gaps:

- `DeliveryWindow`: a fetched message is handled only while it is surely still ours,
  fetched less than 0.7 × `ack_wait` ago (the server keeps its delivery time across a
  restart, so this holds across outages too). The rest of a stale batch is left to the server, which
  gives it out again (with what nats-py buffered from a late answer to a pull, which
  the worker dates from the fetch it belongs to); the worker fetches nothing until
  then, so those come back first.
  `nats_is_back`: a worker waits for NATS before each message.
- `kept_alive`: while a slow handler runs, tell the server we are still working on it.
- `confirm_ack`: an ack is retried until the server confirms it, for as long as NATS is
  away (a nats-server restart keeps the message ours), and for `ack_wait` of connected
  time.
- `HandledIds`: if the server gives us a message again that this worker has handled
  (its ack was lost, say when nats-server was killed before writing it down), it is acked,
  not handled. Messages are known by their Nats-Msg-Id, unique to each operation; the
  ids are kept in a file under WORKER_STATE_DIR, so a restarted worker knows them too.
"""

import asyncio
import contextlib
import logging
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TextIO

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

log = logging.getLogger(__name__)

# A batch's messages are handled only within this share of ack_wait after the fetch: the
# rest of the time is a margin for the ack to reach the server.
_FRESH_SHARE = 0.7
_ACK_TIMEOUT = 2.0
_RETRY_MAX = 1.0
_RECONNECT_POLL = 0.1
_EPOCH_PREFIX = "# epoch "


class DeliveryWindow:
    """The time during which the messages of one fetch are still ours to handle."""

    def __init__(self, ack_wait: float) -> None:
        self._fresh_until = time.monotonic() + ack_wait * _FRESH_SHARE

    def still_ours(self) -> bool:
        return time.monotonic() < self._fresh_until


def buffered_messages(subscription: JetStreamContext.PullSubscription) -> int:
    """Messages nats-py holds from a pull answered after its fetch had returned.

    The server's status notes (`408 Request Timeout` for a pull that expired) land in the
    same buffer and are counted by `pending_msgs`; they are not messages to handle or to
    leave, and the next fetch discards them.
    """
    queue = subscription._sub._pending_queue._queue  # nats-py offers only the raw count
    return sum(1 for msg in queue if not JetStreamContext.is_status_msg(msg))


async def nats_is_back(nc: Client, stop: asyncio.Event) -> bool:
    """Wait while NATS is away. False if we are stopping or the connection is closed."""
    while not nc.is_connected:
        if stop.is_set() or nc.is_closed:
            return False
        await asyncio.sleep(_RECONNECT_POLL)  # nats-py offers a callback, not an event
    return True


@contextlib.asynccontextmanager
async def kept_alive(msg: Msg, ack_wait: float) -> AsyncIterator[None]:
    """While the block runs, tell the server every third of ack_wait that we work on `msg`."""

    async def keep_alive() -> None:
        while True:
            await asyncio.sleep(ack_wait / 3)
            with contextlib.suppress(nats.errors.Error):
                await msg.in_progress()

    beat = asyncio.create_task(keep_alive())
    try:
        yield
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat


async def confirm_ack(
    msg: Msg, nc: Client, ack_wait: float, stop: asyncio.Event, where: str
) -> bool:
    """Ack `msg` and wait for the server to confirm it. Returns whether it did.

    While NATS is away we keep trying: the server cannot give the message to anyone else
    meanwhile, and the ack goes out the moment the connection is back. Only the time the
    connection is up counts against the `ack_wait` we give an answering server (a cluster
    moving the consumer to another node leaves acks unanswered for a few seconds): an ack
    sent just before NATS went away must not be given up during the outage.
    """
    connected_for = 0.0  # seconds spent connected since the first try, waits included
    delay = 0.1
    last = time.monotonic()
    while True:
        try:
            await msg.ack_sync(timeout=_ACK_TIMEOUT)
            return True
        except nats.errors.Error as err:
            log.debug("ack of %s unanswered (%s); trying again", where, err)
            now = time.monotonic()
            if nc.is_connected:
                connected_for += now - last
            last = now
            if nc.is_closed or stop.is_set() or connected_for >= ack_wait:
                # The server will give it out again after ack_wait: it may be handled twice.
                log.warning("ack of %s not confirmed (%s); it may be redelivered", where, err)
                return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, _RETRY_MAX)


class HandledIds:
    """The ids of the last `size` messages handled, kept in a file when one is given.

    The file outlives the process: a worker restarted after a crash still knows what it
    handled, which matters when nats-server was killed too and forgot our last acks. The
    file starts with an epoch line (the consumer's creation time): a consumer made anew,
    as with a new stream, means a new history, and the old ids are dropped. Lines
    are written unsynced: the operating system keeps them when the process is killed.
    """

    def __init__(self, size: int, file: Path | None = None, epoch: str = "") -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._file = file
        self._header = f"{_EPOCH_PREFIX}{epoch}\n"
        self._out: TextIO | None = None
        self._appended = 0
        if file is not None:
            self._guard(self._load)

    def add(self, msg_id: str) -> None:
        self._ids[msg_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        if self._out is not None:
            self._guard(self._append, msg_id)

    def __contains__(self, msg_id: str) -> bool:
        return msg_id in self._ids

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def _load(self) -> None:
        assert self._file is not None
        if self._file.exists():
            lines = self._file.read_text().splitlines(keepends=True)
            if lines and lines[0] == self._header:
                for line in lines[1:][-self._size :]:
                    self._ids[line.rstrip("\n")] = None
                log.info(
                    "remembering %d messages handled before, from %s", len(self._ids), self._file
                )
            else:
                log.info("%s is from another stream or consumer; starting afresh", self._file)
        self._rewrite()

    def _append(self, msg_id: str) -> None:
        assert self._out is not None
        self._out.write(msg_id + "\n")
        self._out.flush()
        self._appended += 1
        if self._appended >= self._size:
            self._rewrite()

    def _rewrite(self) -> None:
        """The header and the ids in memory, replacing the file in one step."""
        assert self._file is not None
        self.close()
        self._file.parent.mkdir(parents=True, exist_ok=True)
        fresh = self._file.with_name(self._file.name + ".new")
        fresh.write_text(self._header + "".join(f"{msg_id}\n" for msg_id in self._ids))
        os.replace(fresh, self._file)
        self._out = self._file.open("a")
        self._appended = 0

    def _guard(self, action: Callable[..., None], *args: str) -> None:
        """Run a file action; if the file fails, say so once and go on in memory only."""
        try:
            action(*args)
        except OSError as err:
            log.warning(
                "cannot keep handled message ids in %s (%s); in memory only", self._file, err
            )
            self.close()
            self._file = None
