"""`Worker`: a micro-process that reacts to operations, in a few lines.

    worker = Worker("bot")

    @worker.on("comment")
    async def new_post(op: dict, meta: OpMeta) -> None:
        ...

    worker.run()

The worker reads through a durable JetStream pull consumer named after it, so a worker
that dies resumes where it stopped, and several copies of it share the work. A message is
acknowledged only after its handler returns, and the server confirms the ack, so a crash
redelivers at most the one message in hand (see `steem_worker.delivery` for how NATS
outages, slow handlers and lost acks are kept from making anything run twice). A handler
that raises KeyError, TypeError or ValueError met data it cannot use: the message is
logged and terminated, never redelivered. Any other exception is taken as passing
trouble: the message is redelivered after `retry_delay`, and terminated with a log line
after `max_deliver` attempts.

A worker takes up to `batch_size` messages at a time. If it is killed, the ones it had
not yet acknowledged go to the next worker (or its restart) after `ack_wait` seconds.
"""

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats.errors
from ipc_config import (
    HEADER_BLOCK_ID,
    HEADER_BLOCK_NUM,
    HEADER_MSG_ID,
    HEADER_TIMESTAMP,
    HEADER_TRX_ID,
    OP_SUBJECT_PREFIX,
    STREAM_NAME,
    NatsSettings,
    StreamSettings,
    op_subject,
)
from ipc_config.settings import WorkerSettings, exit_config_error, load_settings
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import FetchTimeoutError

from steem_worker.connection import NatsRefused, close, connect_unless_stopped, ensure_stream
from steem_worker.delivery import (
    DeliveryWindow,
    HandledIds,
    buffered_messages,
    confirm_ack,
    kept_alive,
    nats_is_back,
)
from steem_worker.logs import setup_logging
from steem_worker.shutdown import stop_event
from steem_worker.status import StatusReporter

log = logging.getLogger(__name__)

_DATA_ERRORS = (KeyError, TypeError, ValueError)
# Seconds a pull waits for messages. nats-py returns at once when messages are there,
# but a waiting pull returns only when full or expired: this bounds live latency too.
_FETCH_WAIT = 0.25
# Ids of handled messages remembered (in memory and in WORKER_STATE_DIR), to recognise one
# the server gives us again.
_HANDLED_MEMORY = 10_000
# Seconds past ack_wait before fetching again after leaving stale messages: the server
# checks for expired messages a moment after their time runs out.
_REDELIVERY_MARGIN = 0.5


@dataclass(frozen=True)
class OpMeta:
    """Where an operation comes from, read from the message headers."""

    op_type: str
    block_num: int
    block_id: str
    trx_id: str
    timestamp: str
    msg_id: str
    delivery: int  # 1 on first delivery, more after a crash or a retry

    @classmethod
    def from_msg(cls, msg: Msg) -> "OpMeta":
        headers = msg.headers or {}
        return cls(
            op_type=msg.subject.removeprefix(OP_SUBJECT_PREFIX),
            block_num=int(headers.get(HEADER_BLOCK_NUM, 0) or 0),
            block_id=headers.get(HEADER_BLOCK_ID, ""),
            trx_id=headers.get(HEADER_TRX_ID, ""),
            timestamp=headers.get(HEADER_TIMESTAMP, ""),
            msg_id=headers.get(HEADER_MSG_ID, ""),
            delivery=msg.metadata.num_delivered,
        )


Handler = Callable[[dict[str, Any], OpMeta], Awaitable[None]]
Filter = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class _Route:
    handler: Handler
    when: Filter | None


class Worker:
    """A durable consumer of `steem.op.<type>` messages that calls your handlers in order."""

    def __init__(
        self,
        name: str,
        *,
        batch_size: int = 50,
        max_deliver: int = 5,
        retry_delay: float = 5.0,
        ack_wait: float = 10.0,
    ) -> None:
        if not name or any(c in name for c in " .*>"):
            raise ValueError(f"worker name {name!r} must be one word (it names the consumer)")
        self.name = name
        self.batch_size = batch_size
        self.max_deliver = max_deliver
        self.retry_delay = retry_delay
        self.ack_wait = ack_wait
        self._handlers: dict[str, _Route] = {}

    def on(self, op_type: str, *, when: Filter | None = None) -> Callable[[Handler], Handler]:
        """Register the handler of one operation type (`comment`, `vote`, `transfer`...).

        `when`, if given, picks the operations the handler acts on; the others are
        acknowledged without calling it. Only a handled message waits for the server to
        confirm its ack before the next one is handled (that confirmation is what bounds
        a crash to one repeated action), so a filter makes a busy worker much faster.
        """
        subject = op_subject(op_type)

        def register(handler: Handler) -> Handler:
            if subject in self._handlers:
                raise ValueError(f"{self.name}: two handlers for {op_type!r}")
            self._handlers[subject] = _Route(handler, when)
            return handler

        return register

    def run(self) -> None:
        """Set up logging and settings, consume until SIGTERM/SIGINT, exit 0."""
        settings = load_settings(WorkerSettings, self.name)
        nats_settings = stream_settings = settings
        state_dir = settings.state_dir
        setup_logging(self.name, settings.log_level)
        if not self._handlers:
            raise RuntimeError(f"{self.name}: no handlers; register one with @worker.on(...)")
        try:
            asyncio.run(self.serve(nats_settings, stream_settings, state_dir=state_dir))
        except NatsRefused as err:
            exit_config_error(self.name, err)
        sys.exit(0)

    async def serve(
        self,
        nats_settings: NatsSettings,
        stream_settings: StreamSettings,
        stop: asyncio.Event | None = None,
        state_dir: Path | None = None,
    ) -> None:
        """Consume until `stop` is set (by default: until SIGTERM or SIGINT).

        With a `state_dir`, the ids of handled messages are kept there too, for the next run.
        """
        stop = stop or stop_event()
        nc = await connect_unless_stopped(nats_settings, self.name, stop)
        if nc is None:
            return
        try:
            js = nc.jetstream()
            if not await ensure_stream(js, stream_settings, stop):
                return
            consumer = await self._ensure_consumer(js)
            log.info("consuming %s as durable consumer %r", ", ".join(self._handlers), self.name)
            reporter = StatusReporter(js, self.name, replicas=stream_settings.replicas)
            reporter.start()
            handled = self._handled_ids(state_dir, consumer)
            try:
                await _Consumer(self, nc, stop, handled).run()
            finally:
                handled.close()
                await reporter.stop()
        finally:
            await close(nc)
        log.info("stopped")

    def _handled_ids(self, state_dir: Path | None, consumer: ConsumerInfo) -> HandledIds:
        if state_dir is None:
            return HandledIds(_HANDLED_MEMORY)
        # A consumer made anew (a new stream has new consumers) starts a new history.
        epoch = f"consumer {consumer.created}"
        instance = os.environ.get("HONCHO_PROCESS_NAME") or self.name  # bot.1, bot.2...
        return HandledIds(_HANDLED_MEMORY, state_dir / f"{instance}.handled", epoch)

    async def _ensure_consumer(self, js: JetStreamContext) -> ConsumerInfo:
        subjects = list(self._handlers)
        config = ConsumerConfig(
            durable_name=self.name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_ack_pending=self.batch_size * 10,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
        )
        await js.add_consumer(STREAM_NAME, config)
        # Asked again, not taken from add_consumer's answer: after a nats-server restart,
        # that answer carries a new creation time for the same consumer, and the handled-ids
        # file keyed by it would be thrown away on every restart.
        return await js.consumer_info(STREAM_NAME, self.name)


class _Consumer:
    """One run of a worker: fetch batches, hand each message to its handler, ack it."""

    def __init__(
        self, worker: Worker, nc: Client, stop: asyncio.Event, handled: HandledIds
    ) -> None:
        self._worker = worker
        self._nc = nc
        self._stop = stop
        self._handled = handled
        self._subscription: JetStreamContext.PullSubscription | None = None
        # The window of the last fetch: messages nats-py buffered after it returned (the
        # server answered a pull late) are as old as that fetch, not the next one.
        self._window = DeliveryWindow(worker.ack_wait)

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
            durable=self._worker.name, stream=STREAM_NAME
        )

    async def _unbind(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
            self._subscription = None

    async def _consume(self) -> None:
        batch_size = self._worker.batch_size
        while not self._stop.is_set():
            # A pull request sent during an outage would wait in nats-py's buffer and
            # reach the server with the others, all at once, when it is back.
            if not await nats_is_back(self._nc, self._stop):
                return
            buffered = buffered_messages(self._subscription)
            if buffered and not self._window.still_ours():
                await self._let_the_server_take_back(0)
                continue
            if not buffered:
                # Every pull dates what it brings, even one that times out: a message the
                # server sends just as it expires lands in the buffer, as new as this pull.
                self._window = DeliveryWindow(self._worker.ack_wait)
            window = self._window
            try:
                messages = await self._subscription.fetch(batch_size, timeout=_FETCH_WAIT)
            except (FetchTimeoutError, nats.errors.TimeoutError, TimeoutError):
                continue
            except nats.errors.ConnectionClosedError:
                return
            except nats.errors.Error as err:
                log.warning("fetch failed (%s); retrying", err or type(err).__name__)
                await asyncio.sleep(_FETCH_WAIT)
                continue
            for index, msg in enumerate(messages):
                if not await nats_is_back(self._nc, self._stop):
                    return  # stopping during an outage: the server gives them out again
                if not window.still_ours():
                    # Too long since the fetch (an outage, a slow handler): the server may
                    # have given these out again already, so we neither handle them nor
                    # hand them back (a late nak would pull one away from the copy holding it).
                    await self._let_the_server_take_back(len(messages) - index)
                    break
                if self._stop.is_set():
                    # Hand back what we will not handle, so another copy can take it now.
                    await _nak_all(messages[index:])
                    return
                await self._handle(msg)

    async def _let_the_server_take_back(self, count: int) -> None:
        """Leave `count` stale messages of a batch, and any nats-py buffered since, to the
        server, and fetch nothing until they are due to be given out again.

        Buffered messages (answers to a pull that came after the fetch had returned) are
        at least as old as the batch: a fresh subscription drops them, or the next fetch
        would hand them over first. A fetch made at once would get the messages after
        them all first (the server gives out what we left only when their ack_wait runs
        out), and a single worker would handle newer operations before older ones. Once
        they are due, the server gives them out before anything newer.
        """
        buffered = buffered_messages(self._subscription)
        if buffered:
            await self._unbind()
            await self._bind()
        pause = self._worker.ack_wait + _REDELIVERY_MARGIN
        log.info(
            "leaving %d messages fetched too long ago; the server gives them out again "
            "first, in %.0f s",
            count + buffered,
            pause,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), pause)

    async def _hand_back_leftovers(self) -> None:
        """Nak what reached us after the last fetch, so the next worker gets it at once.

        A pull request can still deliver a message just as it expires; left alone, such a
        message would wait `ack_wait` seconds before anyone else may have it.
        """
        try:
            leftovers = await self._subscription.fetch(self._worker.batch_size, timeout=_FETCH_WAIT)
        except (FetchTimeoutError, nats.errors.Error, TimeoutError):
            return
        await _nak_all(leftovers)

    async def _handle(self, msg: Msg) -> None:
        meta = OpMeta.from_msg(msg)
        where = f"{msg.subject} block {meta.block_num} ({meta.msg_id or 'no id'})"
        if meta.msg_id and meta.msg_id in self._handled:
            # Our ack of it was lost (nats-server killed, say): the server gave it out again.
            log.info("%s came again after it was handled here; acknowledging it", where)
            await self._ack(msg, where)
            return
        try:
            op = json.loads(msg.data)
            if not isinstance(op, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            log.error("malformed message on %s: %s; dropped", where, err)
            await msg.term()
            return
        route = self._worker._handlers[msg.subject]
        try:
            if route.when is not None and not route.when(op):
                await msg.ack()  # nothing was done: no need to wait for the server
                return
            async with kept_alive(msg, self._worker.ack_wait):
                await route.handler(op, meta)
        except _DATA_ERRORS as err:
            log.error("cannot handle %s: %s: %s; dropped", where, type(err).__name__, err)
            await msg.term()
            return
        except Exception as err:
            await self._retry_later(msg, meta, where, err)
            return
        if meta.msg_id:
            self._handled.add(meta.msg_id)
        await self._ack(msg, where)

    async def _retry_later(self, msg: Msg, meta: OpMeta, where: str, err: Exception) -> None:
        max_deliver, retry_delay = self._worker.max_deliver, self._worker.retry_delay
        if meta.delivery >= max_deliver:
            log.error("handler failed on %s %d times (%r); giving up", where, meta.delivery, err)
            await msg.term()
        else:
            log.warning("handler failed on %s (%r); retry in %.0f s", where, err, retry_delay)
            await msg.nak(delay=retry_delay)

    async def _ack(self, msg: Msg, where: str) -> None:
        await confirm_ack(msg, self._nc, self._worker.ack_wait, self._stop, where)


async def _nak_all(messages: list[Msg]) -> None:
    for msg in messages:
        with contextlib.suppress(nats.errors.Error):
            await msg.nak()
