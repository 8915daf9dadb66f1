"""The delivery engine: how a worker takes messages from its durable consumer and hands
each one to its handler once, in stream order.

    delivery = Delivery(nc, "STEEM", "bot", Timing(ack_wait=10), batch_size=50,
                        handled=HandledIds(10_000), stop=stop, handle=handle)
    await delivery.run()   # until `stop` is set; `handle(msg)` returns a Verdict

JetStream gives a fetched message to one consumer for `ack_wait` seconds, then gives it
out again (to this copy of the worker or another). So a message runs twice when its ack
is lost, or when it is handled after its time ran out. Each rule below closes a gap:

- **Fresh messages only.** A message is handled only within `0.7 × ack_wait` of the pull
  that brought it (`Timing.fresh_for`); the rest of the time is a margin for the ack. A
  pull dates what it brings even when it times out: the server may answer it just as it
  expires, and nats-py buffers that answer for the next fetch. The server's status notes
  (`408` for an expired pull) land in the same buffer and are not messages.
- **Stale messages are left, not handed back.** What is left of a batch past that time,
  and what nats-py buffered with it, is left to the server, which gives it out again when
  its `ack_wait` runs out (a late nak could pull a message away from the copy that now
  holds it). Meanwhile the worker fetches nothing (`Timing.pause_after_leaving`), so those
  come back first and chain order holds. Only a stall or an outage leads here.
- **No work while NATS is away.** Nothing is fetched or handled while disconnected.
- **Acks are confirmed.** A handled message's ack is retried until the server confirms
  it: for as long as NATS is away (a restarted server keeps the message ours), then for
  `ack_wait` of connected time.
- **Slow handlers keep their batch.** While a batch is handled, the worker tells the
  server every `ack_wait / 3` that it is still working on the message in hand and on the
  rest of the batch; once the server has them (a flush), the rest is fresh for another
  `0.7 × ack_wait`. A beat that comes late (a stall) or after a reconnect (the server
  may have forgotten the batch) renews nothing: slow handlers alone never leave messages.
- **Repeats are recognised.** A message this worker handled before (its ack was lost,
  say nats-server was killed before writing it down) is acked, not handled; the ids live
  in `HandledIds`, in a file that outlives the process. An operation is known by its
  transaction id and index (`ipc_config.operation_key`), which a fork does not change:
  re-included in another block, it is not handled twice (unless the worker follows forks
  itself and asks for every copy, `Worker(..., once_per_operation=False)`).
- **Stopping hands back.** At SIGTERM what was fetched but not reached is nak'ed.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import nats.errors
from ipc_config import (
    HEADER_BLOCK_NUM,
    HEADER_MSG_ID,
    HEADER_ORIGINAL_MSG_ID,
    HEADER_TRX_ID,
    operation_key,
)
from ipc_config.backoff import Backoff
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import FetchTimeoutError

from steem_worker.handled_ids import HandledIds

log = logging.getLogger(__name__)

FRESH_SHARE = 0.7  # of ack_wait: how long after its pull a message may still be handled
KEEP_ALIVE_SHARE = 1 / 3  # of ack_wait: how often a slow handler says it is working
REDELIVERY_MARGIN = 0.5  # seconds: the server gives out expired messages a moment late
FETCH_WAIT = 0.25  # seconds a pull waits for messages: this bounds live latency too
_ACK_TIMEOUT = 2.0
_RECONNECT_POLL = 0.1


@dataclass(frozen=True)
class Timing:
    """Every delay of the engine, derived from the consumer's `ack_wait`."""

    ack_wait: float

    @property
    def fresh_for(self) -> float:
        return self.ack_wait * FRESH_SHARE

    @property
    def keep_alive_every(self) -> float:
        return self.ack_wait * KEEP_ALIVE_SHARE

    @property
    def pause_after_leaving(self) -> float:
        return self.ack_wait + REDELIVERY_MARGIN


@dataclass(frozen=True)
class Verdict:
    """What the server hears about a message once the worker is done with it."""

    outcome: str  # handled, skipped, dropped, retry or dead: what happened, for people
    action: str  # "ack", "nak" or "term"
    confirm: bool = False  # wait for the server to confirm the ack: the handler acted
    remember: bool = False  # keep its id among the handled ones
    delay: float | None = None  # of a nak


HANDLED = Verdict("handled", "ack", confirm=True, remember=True)
SKIPPED = Verdict("skipped", "ack")  # filtered out: nothing done, no need to wait
DROPPED = Verdict("dropped", "ack")  # bad data, said so by the handler
DEAD = Verdict("dead", "term")  # never again: a copy was kept as a dead letter first


def retry_in(delay: float) -> Verdict:
    return Verdict("retry", "nak", delay=delay)


Handle = Callable[[Msg], Awaitable[Verdict]]


def message_id(msg: Msg) -> str:
    """The operation's id: its Nats-Msg-Id, or the one it had before a dead letter's replay."""
    headers = msg.headers or {}
    return headers.get(HEADER_ORIGINAL_MSG_ID) or headers.get(HEADER_MSG_ID, "")


def describe(subject: str, block_num: str | int, msg_id: str) -> str:
    """How log lines name a message: `steem.op.comment block 5 (<block id>/0/1)`."""
    return f"{subject} block {block_num or '?'} ({msg_id or 'no id'})"


class DeliveryWindow:
    """How long one pull's messages are ours, and the connection (reconnect count) it used."""

    def __init__(self, timing: Timing, session: int = 0) -> None:
        self._timing = timing
        self.session = session
        self._fresh_until = time.monotonic() + timing.fresh_for

    def still_ours(self) -> bool:
        return time.monotonic() < self._fresh_until

    def renewed(self, since: float) -> None:
        """The server heard at `since` that we still work on these messages."""
        self._fresh_until = max(self._fresh_until, since + self._timing.fresh_for)

    def copy(self) -> "DeliveryWindow":
        twin = DeliveryWindow(self._timing, self.session)
        twin._fresh_until = self._fresh_until
        return twin


def buffered_messages(subscription: JetStreamContext.PullSubscription) -> int:
    """Messages nats-py buffered from a pull answered late (not the server's status notes)."""
    queue = subscription._sub._pending_queue._queue  # nats-py offers only the raw count
    return sum(1 for msg in queue if not JetStreamContext.is_status_msg(msg))


async def nats_is_back(nc: Client, stop: asyncio.Event) -> bool:
    """Wait while NATS is away. False if we are stopping or the connection is closed."""
    while not nc.is_connected:
        if stop.is_set() or nc.is_closed:
            return False
        await asyncio.sleep(_RECONNECT_POLL)  # nats-py offers a callback, not an event
    return True


class BatchInHand:
    """A fetched batch while it is handled: the message in hand and the rest after it."""

    def __init__(self, messages: list[Msg], window: DeliveryWindow) -> None:
        self.messages = messages
        self.window = window  # its own: the pull's window still dates what nats-py buffered
        self.position = 0  # of the message in hand

    def in_hand(self) -> list[Msg]:
        return self.messages[self.position : self.position + 1]

    def rest(self) -> list[Msg]:
        return self.messages[self.position + 1 :]


@contextlib.contextmanager
def kept_alive(batch: BatchInHand, nc: Client, timing: Timing) -> Iterator[None]:
    """While a batch is handled, tell the server every `ack_wait / 3` that we work on it
    (a timer, not a task per batch: most batches end before the first beat)."""
    loop = asyncio.get_running_loop()
    beats: set[asyncio.Task] = set()

    def beat() -> None:
        task = loop.create_task(_in_progress(batch, nc, timing))
        beats.add(task)
        task.add_done_callback(beats.discard)
        nonlocal timer
        timer = loop.call_later(timing.keep_alive_every, beat)

    timer = loop.call_later(timing.keep_alive_every, beat)
    try:
        yield
    finally:
        timer.cancel()
        for task in beats:
            task.cancel()


async def _in_progress(batch: BatchInHand, nc: Client, timing: Timing) -> None:
    """The message in hand is kept however long its handler takes; the rest only while
    still ours, renewed only once the server that gave it out surely has the news (after
    a reconnect it may have forgotten the deliveries; a flush returns while away too)."""
    began = time.monotonic()
    on_time = batch.window.still_ours() and nc.is_connected

    def same_session() -> bool:
        return nc.is_connected and nc.stats["reconnects"] == batch.window.session

    with contextlib.suppress(nats.errors.Error, TimeoutError):
        for msg in batch.in_hand() + (batch.rest() if on_time else []):
            await msg.in_progress()
        if on_time and same_session():
            await nc.flush(timeout=timing.fresh_for)
            if same_session() and batch.window.still_ours():
                batch.window.renewed(began)


async def confirm_ack(
    msg: Msg, nc: Client, ack_wait: float, stop: asyncio.Event, where: str
) -> bool:
    """Ack `msg` and wait for the server to confirm it. Returns whether it did. Only
    connected time counts against `ack_wait`: an ack is not given up during an outage (or
    while a cluster moves the consumer to another node)."""
    connected_for = 0.0  # seconds spent connected since the first try, waits included
    backoff = Backoff(start=0.1, cap=1.0)
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
        await asyncio.sleep(backoff.next())


class Delivery:
    """One durable consumer's messages, fetched in batches and handed over one at a time."""

    def __init__(
        self,
        nc: Client,
        stream: str,
        durable: str,
        timing: Timing,
        batch_size: int,
        handled: HandledIds,
        stop: asyncio.Event,
        handle: Handle,
        fetched: Callable[[list[Msg]], None] | None = None,
        once_per_operation: bool = True,
    ) -> None:
        self._nc = nc
        self._stream, self._durable = stream, durable
        self._timing = timing
        self._batch_size = batch_size
        self._handled = handled
        self._stop = stop
        self._handle = handle
        self._fetched = fetched or (lambda messages: None)  # told of every fetch's result
        self._once_per_operation = once_per_operation
        self._subscription: JetStreamContext.PullSubscription | None = None
        # The window of the last pull: what nats-py buffers after it is as old as it.
        self._window = DeliveryWindow(timing, nc.stats["reconnects"])

    async def run(self) -> None:
        await self._bind()
        try:
            await self._consume()
            await self._hand_back_leftovers()
        finally:
            await self._unbind()

    async def _bind(self) -> None:
        js = self._nc.jetstream()
        self._subscription = await js.pull_subscribe_bind(
            durable=self._durable, stream=self._stream
        )

    async def _unbind(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
            self._subscription = None

    async def _consume(self) -> None:
        while not self._stop.is_set():
            # A pull sent during an outage would wait in nats-py's buffer and reach the
            # server with the others, all at once, when it is back.
            if not await nats_is_back(self._nc, self._stop):
                return
            buffered = buffered_messages(self._subscription)
            if buffered and not self._window.still_ours():
                await self._leave_to_the_server(0)
                continue
            if not buffered:
                self._window = DeliveryWindow(self._timing, self._nc.stats["reconnects"])
            window = self._window
            try:
                messages = await self._subscription.fetch(self._batch_size, timeout=FETCH_WAIT)
            except (FetchTimeoutError, nats.errors.TimeoutError, TimeoutError):
                self._fetched([])
                continue
            except nats.errors.ConnectionClosedError:
                return
            except nats.errors.Error as err:
                log.warning("fetch failed (%s); retrying", err or type(err).__name__)
                await asyncio.sleep(FETCH_WAIT)
                continue
            self._fetched(messages)
            if not await self._hand_over(messages, window):
                return

    async def _hand_over(self, messages: list[Msg], window: DeliveryWindow) -> bool:
        """Handle a batch in order while it is ours; False when the worker stops."""
        batch = BatchInHand(messages, window.copy())
        with kept_alive(batch, self._nc, self._timing):
            for index, msg in enumerate(messages):
                batch.position = index
                if not await nats_is_back(self._nc, self._stop):
                    return False  # stopping during an outage: the server gives them out again
                if not batch.window.still_ours() or self._stop.is_set():
                    break
                await self._deliver(msg)
            else:
                return True
        # Out of the keep-alive: the server must be free to give these out again.
        if batch.window.still_ours():  # stopping
            await _nak_all(messages[index:])  # another copy can take them now
            return False
        await self._leave_to_the_server(len(messages) - index)  # a late nak could steal one
        return True

    async def _deliver(self, msg: Msg) -> None:
        headers = msg.headers or {}
        msg_id = message_id(msg)
        key = (
            operation_key(msg_id, headers.get(HEADER_TRX_ID, ""))
            if self._once_per_operation
            else msg_id
        )
        where = describe(msg.subject, headers.get(HEADER_BLOCK_NUM, ""), msg_id)
        if key and key in self._handled:
            # Our ack of it was lost (nats-server killed, say), or a fork re-included it.
            log.info("%s came again after it was handled here; acknowledging it", where)
            await confirm_ack(msg, self._nc, self._timing.ack_wait, self._stop, where)
            return
        verdict = await self._handle(msg)
        if verdict.remember and key:
            self._handled.add(key)
        with contextlib.suppress(nats.errors.Error):
            if verdict.action == "nak":
                await msg.nak(delay=verdict.delay)
            elif verdict.action == "term":
                await msg.term()
            elif not verdict.confirm:
                await msg.ack()
        if verdict.action == "ack" and verdict.confirm:
            await confirm_ack(msg, self._nc, self._timing.ack_wait, self._stop, where)

    async def _leave_to_the_server(self, count: int) -> None:
        """Leave `count` stale messages of a batch, and what nats-py buffered since (a
        fresh subscription drops those), to the server; fetch nothing until they are due
        again, or the messages after them would come first."""
        buffered = buffered_messages(self._subscription)
        if buffered:
            await self._unbind()
            await self._bind()
        pause = self._timing.pause_after_leaving
        log.info(
            "leaving %d messages fetched too long ago; the server gives them out again "
            "first, in %.0f s",
            count + buffered,
            pause,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), pause)

    async def _hand_back_leftovers(self) -> None:
        """Nak what a pull delivered just as it expired, so the next copy gets it at once."""
        try:
            leftovers = await self._subscription.fetch(self._batch_size, timeout=FETCH_WAIT)
        except (FetchTimeoutError, nats.errors.Error, TimeoutError):
            return
        await _nak_all(leftovers)


async def _nak_all(messages: list[Msg]) -> None:
    for msg in messages:
        with contextlib.suppress(nats.errors.Error):
            await msg.nak()
