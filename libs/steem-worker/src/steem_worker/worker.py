"""`Worker`: a micro-process that reacts to what the broadcaster publishes.

    worker = Worker("bot", settings=BotSettings)   # its consumers are named "bot"

    @worker.on("comment", when=lambda op: op["parent_author"] == "")
    async def new_post(op: dict, meta: Meta) -> None:
        print(op["permlink"], meta.block_num, meta.settings.min_payout)

    @worker.on_block
    async def block_done(block: dict, meta: Meta) -> None: ...

    worker.run()   # settings, logging, NATS, consume until SIGTERM, exit 0

Handlers take the message's body and its `Meta`. `on(type)` takes an operation type
(`steem.op.<type>`), `on_vop` a virtual operation, `on_block` the block closing message
(`steem.block`), `on_fork` a fork notice (`steem.fork`, head mode). A handler returns
(done: the message is acknowledged), raises `Drop` (bad data: logged, acknowledged) or
`Retry(delay)`; any other exception is retried after `retry_delay`, and after
`max_deliver` attempts the message is kept as a dead letter (see `steem_worker.outcomes`).

The worker reads through a durable consumer named after it, so it resumes where it
stopped and several copies share the work; `steem_worker.delivery` says how a crash, an
outage or a slow handler is kept from running anything twice. Its settings class
(`WorkerSettings` or a subclass) is read at start and handed to handlers as
`meta.settings`; WORKER_ACK_WAIT, WORKER_BATCH_SIZE, WORKER_MAX_DELIVER and
WORKER_RETRY_DELAY override the values given here.
"""

import asyncio
import contextlib
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar

import nats.errors
from ipc_config import (
    BLOCK_SUBJECT,
    DEAD_STREAM_NAME,
    FORK_SUBJECT,
    HEADER_DEAD_SUBJECT,
    STATUS_INTERVAL,
    STREAM_NAME,
    WorkerSettings,
    op_subject,
    replay_subject,
    vop_subject,
    worker_name_is_valid,
)
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy

from steem_worker.dead_letters import dead_letter
from steem_worker.delivery import (
    DEAD,
    DROPPED,
    HANDLED,
    SKIPPED,
    Delivery,
    Timing,
    Verdict,
    describe,
    retry_in,
)
from steem_worker.handled_ids import HandledIds
from steem_worker.meta import Meta
from steem_worker.outcomes import Drop, Retry
from steem_worker.retention import RetentionWatch
from steem_worker.service import Service, run_service, serve

log = logging.getLogger(__name__)

S = TypeVar("S", bound=WorkerSettings)
Handler = Callable[[dict[str, Any], Meta], Awaitable[None]]
Filter = Callable[[dict[str, Any]], bool]
StartHook = Callable[[Any], Awaitable[None] | None]
Letter = tuple[str, bytes, dict[str, str]]  # subject, payload, headers
KeepLetter = Callable[[Letter], Awaitable[None]]

HANDLED_MEMORY = 10_000  # ids of handled messages remembered, in memory and on disk
_DEAD_LETTER_TIMEOUT = 5.0


@dataclass(frozen=True)
class _Route:
    handler: Handler
    when: Filter | None


@dataclass(frozen=True)
class DeliveryParams:
    """How the worker takes messages: its code's values, or the WORKER_* settings."""

    batch_size: int
    ack_wait: float
    max_deliver: int
    retry_delay: float


class Worker(Generic[S]):
    """Durable consumers of the subjects its handlers name, calling them in stream order."""

    def __init__(
        self,
        name: str,
        *,
        settings: type[S] = WorkerSettings,
        batch_size: int = 50,
        max_deliver: int = 5,
        retry_delay: float = 5.0,
        ack_wait: float = 10.0,
    ) -> None:
        if not worker_name_is_valid(name):
            raise ValueError(f"worker name {name!r} must be one word (it names the consumer)")
        self.name = name
        self.settings_type = settings
        self._defaults = DeliveryParams(batch_size, ack_wait, max_deliver, retry_delay)
        self._routes: dict[str, _Route] = {}
        self._on_start: list[StartHook] = []

    # -- registering handlers ----------------------------------------------------------

    def on(self, op_type: str, *, when: Filter | None = None) -> Callable[[Handler], Handler]:
        """The handler of one operation type (`comment`, `vote`, `transfer`...).

        `when`, if given, picks the operations the handler acts on; the others are
        acknowledged without waiting for the server's confirmation, which makes a busy
        worker much faster (a handled message waits for it: that is what bounds a crash
        to one repeated action).
        """
        return self._route(op_subject(op_type), when)

    def on_vop(self, vop_type: str, *, when: Filter | None = None) -> Callable[[Handler], Handler]:
        """The handler of one virtual operation type (`producer_reward`, `fill_order`...)."""
        return self._route(vop_subject(vop_type), when)

    def on_block(self, handler: Handler) -> Handler:
        """The handler of `steem.block`, published after each block's operations."""
        return self._route(BLOCK_SUBJECT, None)(handler)

    def on_fork(self, handler: Handler) -> Handler:
        """The handler of `steem.fork` (head mode): the blocks a fork abandoned."""
        return self._route(FORK_SUBJECT, None)(handler)

    def on_start(self, hook: StartHook) -> StartHook:
        """Called with the settings once they are read, before anything is consumed (say
        what the worker does; raise ConfigError for a setting that cannot work)."""
        self._on_start.append(hook)
        return hook

    def _route(self, subject: str, when: Filter | None) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if subject in self._routes:
                raise ValueError(f"{self.name}: two handlers for {subject}")
            self._routes[subject] = _Route(handler, when)
            return handler

        return register

    @property
    def subjects(self) -> list[str]:
        return list(self._routes)

    # -- running -----------------------------------------------------------------------

    def run(self) -> NoReturn:
        """Read the settings, consume until SIGTERM or SIGINT, exit 0."""
        if not self._routes:
            raise RuntimeError(f"{self.name}: no handlers; register one with @worker.on(...)")
        run_service(self.name, self.settings_type, self._main)

    async def serve(self, settings: S, stop: asyncio.Event | None = None) -> None:
        """Consume until `stop` is set (tests; `run()` is the process's way)."""
        await serve(self.name, settings, self._main, stop)

    def params(self, settings: WorkerSettings) -> DeliveryParams:
        d = self._defaults
        return DeliveryParams(
            batch_size=settings.batch_size or d.batch_size,
            ack_wait=settings.ack_wait or d.ack_wait,
            max_deliver=settings.max_deliver or d.max_deliver,
            retry_delay=settings.retry_delay or d.retry_delay,
        )

    async def _main(self, service: Service[S]) -> None:
        settings, js = service.settings, service.js
        for hook in self._on_start:
            if inspect.isawaitable(result := hook(settings)):
                await result
        params = self.params(settings)
        consumer = await self._ensure_consumers(js, params)
        log.info("consuming %s as durable consumer %r", ", ".join(self._routes), self.name)
        handled = self._handled_ids(settings, consumer)
        watch = await RetentionWatch.start(
            js, self.name, consumer, settings.replicas, service.status
        )
        lock = asyncio.Lock()  # one message at a time, whichever consumer it came from

        async def keep(letter: Letter) -> None:
            await js.publish(*letter[:2], headers=letter[2], timeout=_DEAD_LETTER_TIMEOUT)

        async def handle(msg: Msg) -> Verdict:
            async with lock:
                return await self.dispatch(msg, settings, params, keep)

        timing = Timing(params.ack_wait)
        deliveries = [
            Delivery(service.nc, stream, self.name, timing, params.batch_size, handled,
                     service.stop, handle, fetched)
            for stream, fetched in ((STREAM_NAME, watch.fetched), (DEAD_STREAM_NAME, None))
        ]  # fmt: skip
        checking = asyncio.ensure_future(_every(STATUS_INTERVAL, watch.check, service.stop))
        try:
            await asyncio.gather(*(delivery.run() for delivery in deliveries))
        finally:
            checking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checking
            handled.close()

    def _handled_ids(self, settings: WorkerSettings, consumer: ConsumerInfo) -> HandledIds:
        # A consumer made anew (a new stream has new consumers) starts a new history.
        epoch = f"consumer {consumer.created}"
        # One file per copy (bot.1, bot.2 under honcho), the same across its restarts.
        instance = os.environ.get("HONCHO_PROCESS_NAME") or self.name
        return HandledIds(HANDLED_MEMORY, settings.state_dir / f"{instance}.handled", epoch)

    async def _ensure_consumers(self, js: JetStreamContext, params: DeliveryParams) -> ConsumerInfo:
        """The consumer of the stream, and the one of this worker's replayed dead letters."""
        subjects = list(self._routes)
        for stream, filters in (
            (STREAM_NAME, subjects),
            (DEAD_STREAM_NAME, [replay_subject(self.name)]),
        ):
            config = ConsumerConfig(
                durable_name=self.name,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=params.ack_wait,
                max_ack_pending=params.batch_size * 10,
                filter_subject=filters[0] if len(filters) == 1 else None,
                filter_subjects=filters if len(filters) > 1 else None,
            )
            await js.add_consumer(stream, config)
        # Asked again, not taken from add_consumer's answer: after a nats-server restart,
        # that answer carries a new creation time for the same consumer, and the handled-ids
        # file keyed by it would be thrown away on every restart.
        return await js.consumer_info(STREAM_NAME, self.name)

    # -- one message ---------------------------------------------------------------------

    async def dispatch(
        self, msg: Msg, settings: S, params: DeliveryParams, keep: KeepLetter
    ) -> Verdict:
        """Hand `msg` to its handler and turn the outcome into what the server hears;
        `keep` stores a dead letter (it raises if it cannot)."""
        subject = (msg.headers or {}).get(HEADER_DEAD_SUBJECT) or msg.subject
        meta = Meta.of(msg, subject, settings)
        where = describe(subject, meta.block_num, meta.msg_id)
        route = self._routes.get(subject)
        try:
            body = json.loads(msg.data)
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            log.error("malformed message on %s: %s", where, err)
            return await self._give_up(msg, meta, where, f"malformed message: {err}", params, keep)
        if route is None:
            return await self._give_up(msg, meta, where, "no handler for it", params, keep)
        try:
            if route.when is not None and not route.when(body):
                return SKIPPED
            await route.handler(body, meta)
        except Drop as err:
            log.warning("dropped %s: %s", where, err)
            return DROPPED
        except Exception as err:  # a bug or passing trouble: retried, then kept
            delay = err.delay if isinstance(err, Retry) else params.retry_delay
            reason = str(err) if isinstance(err, Retry) else f"{type(err).__name__}: {err}"
            if meta.delivery >= params.max_deliver:
                log.error("handler failed on %s: %s", where, reason, exc_info=err)
                return await self._give_up(msg, meta, where, reason, params, keep)
            log.warning(
                "handler failed on %s (%s); attempt %d of %d, again in %g s",
                where, reason, meta.delivery, params.max_deliver, delay,
            )  # fmt: skip
            return retry_in(delay)
        return HANDLED

    async def _give_up(
        self,
        msg: Msg,
        meta: Meta,
        where: str,
        reason: str,
        params: DeliveryParams,
        keep: KeepLetter,
    ) -> Verdict:
        """Keep a copy as a dead letter, then terminate it; if the copy cannot be stored
        now, the message comes back later instead."""
        letter = dead_letter(msg, self.name, meta.subject, reason, meta.delivery)
        try:
            await keep(letter)
        except (nats.errors.Error, TimeoutError) as err:
            log.warning("cannot keep %s as a dead letter yet (%r); it comes back later", where, err)
            return retry_in(params.retry_delay)
        log.error(
            "gave up on %s after %d attempts (%s); kept on %s, replay with: steem-dead replay %s",
            where, meta.delivery, reason, letter[0], self.name,
        )  # fmt: skip
        return DEAD


async def _every(
    seconds: float, action: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> None:
    """`action()` now, then every `seconds`, until `stop` is set."""
    while not stop.is_set():
        await action()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
