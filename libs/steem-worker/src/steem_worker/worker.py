"""`Worker`: a micro-process that reacts to what the broadcaster publishes.

    worker = Worker("bot", settings=BotSettings)   # its consumers are named "bot"

    @worker.on("comment", when=lambda op: op["parent_author"] == "")
    async def new_post(op: dict, meta: Meta) -> None:
        print(op["permlink"], meta.block_num, meta.settings.min_payout)

    @worker.on_block
    async def block_done(block: dict, meta: Meta) -> None: ...

    worker.run()   # settings, logging, NATS, consume until SIGTERM, exit 0

Handlers take the message's body and its `Meta`. `on(type)` takes an operation type
(`steem.op.<type>`), `on_new_post` the comments that create a post, `on_vop` a virtual
operation, `on_block` the block closing message
(`steem.block`), `on_fork` a fork notice (`steem.fork`, head mode). A handler returns
(done: the message is acknowledged), raises `Drop` (bad data: logged, acknowledged) or
`Retry(delay)`; any other exception is retried after `retry_delay`, and after
`max_deliver` attempts the message is kept as a dead letter (see `steem_worker.outcomes`).

The worker reads through a durable consumer named after it, so it resumes where it
stopped and several copies share the work; `steem_worker.delivery` says how a crash, an
outage or a slow handler is kept from running anything twice. An operation that a fork
(head mode) re-includes in another block is not handed over again: a worker that undoes
what abandoned blocks did (`on_fork`) and wants every copy says `once_per_operation=False`. Its settings class
(`WorkerSettings` or a subclass) is read at start and handed to handlers as
`meta.settings`; WORKER_ACK_WAIT, WORKER_BATCH_SIZE, WORKER_MAX_DELIVER and
WORKER_RETRY_DELAY override the values given here.
"""

import asyncio
import contextlib
import functools
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, Protocol, TypeVar

import nats.errors
from ipc_config import (
    BLOCK_SUBJECT,
    FORK_SUBJECT,
    HEADER_COMMENT,
    HEADER_DEAD_SUBJECT,
    WorkerSettings,
    op_subject,
    tx_failed_subject,
    tx_included_subject,
    vop_subject,
    worker_name_is_valid,
)
from ipc_config.chain import is_new_post
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from steem_worker.consumers import DeliveryParams, consumer_plan, run_consumers
from steem_worker.dead_letters import dead_letter
from steem_worker.delivery import DEAD, DROPPED, HANDLED, SKIPPED, Verdict, describe, retry_in
from steem_worker.meta import Meta
from steem_worker.outcomes import Drop, Retry
from steem_worker.service import Idle, Service, run_service, serve

log = logging.getLogger(__name__)

S = TypeVar("S", bound=WorkerSettings)
Handler = Callable[[dict[str, Any], Meta], Awaitable[None]]
Filter = Callable[..., bool]  # (body) or (body, meta) -> whether the handler acts
StartHook = Callable[[Any], Awaitable[None] | None]
Background = Callable[[Service], Awaitable[None]]
Message = tuple[str, bytes, dict[str, str]]  # subject, payload, headers

_PUBLISH_TIMEOUT = 5.0


class Outlet(Protocol):
    """Where a worker stores what it writes: dead letters, and requests for actions."""

    async def store(self, subject: str, data: bytes, headers: dict[str, str]) -> None: ...


class JetStreamOutlet:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def store(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        """Published and acknowledged by the stream, or an exception."""
        await self._js.publish(subject, data, headers=headers, timeout=_PUBLISH_TIMEOUT)


class Context:
    """What every message of one run of a worker is handled with."""

    def __init__(self, settings: WorkerSettings, params: DeliveryParams, outlet: Outlet) -> None:
        self.settings = settings
        self.params = params
        self.outlet = outlet  # where dead letters and requests are stored
        self._chain: Any = None

    @property
    def chain(self) -> Any:
        """The read-only chain client on STEEM_NODES, made on first use (`meta.chain`)."""
        if self._chain is None:
            from steem_chain.aio import AsyncChain  # beem: loaded only by workers that read

            self._chain = AsyncChain.from_settings(self.settings)
        return self._chain


@dataclass(frozen=True)
class _Route:
    handler: Handler
    when: Filter | None

    def passes(self, body: dict[str, Any], meta: Meta) -> bool:
        """A filter takes the body, or the body and the meta (to read a header)."""
        return bool(self.when(body, meta) if self._takes_meta else self.when(body))

    @property
    def _takes_meta(self) -> bool:
        return _takes_two(self.when)


async def _unless_stopped(work: Awaitable[Any], stop: asyncio.Event) -> bool:
    """Await `work`; if `stop` is set first, cancel it and return False."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False


@functools.cache
def _takes_two(when: Filter) -> bool:
    return len(inspect.signature(when).parameters) > 1


def creates_a_post(comment: dict[str, Any], meta: Meta) -> bool:
    try:
        return is_new_post(comment, meta.headers.get(HEADER_COMMENT))
    except (KeyError, TypeError) as err:
        raise Drop(f"not a comment ({type(err).__name__}: {err})") from None


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcards: `*` one token, `>` the rest."""
    tokens, wanted = subject.split("."), pattern.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > index
        if index >= len(tokens) or (token != "*" and token != tokens[index]):
            return False
    return len(tokens) == len(wanted)


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
        once_per_operation: bool = True,
    ) -> None:
        if not worker_name_is_valid(name):
            raise ValueError(f"worker name {name!r} must be one word (it names the consumer)")
        self.name = name
        self.settings_type = settings
        self._defaults = DeliveryParams(
            batch_size, ack_wait, max_deliver, retry_delay, once_per_operation
        )
        self._routes: dict[str, _Route] = {}
        self._on_start: list[StartHook] = []
        self._running: list[Background] = []

    # -- registering handlers ----------------------------------------------------------

    def on(self, op_type: str, *, when: Filter | None = None) -> Callable[[Handler], Handler]:
        """The handler of one operation type (`comment`, `vote`, `transfer`...).

        `when`, if given, picks the operations the handler acts on; the others are
        acknowledged without waiting for the server's confirmation, which makes a busy
        worker much faster (a handled message waits for it: that is what bounds a crash
        to one repeated action).
        """
        return self._route(op_subject(op_type), when)

    def on_new_post(self, handler: Handler) -> Handler:
        """The handler of every `comment` that creates a top-level post: not a reply, not
        an edit (whole body or patch), as the chain tells (the Steem-Comment header the
        broadcaster writes; `ipc_config.chain.is_new_post`). Malformed ones are dropped."""
        return self._route(op_subject("comment"), creates_a_post)(handler)

    def on_vop(self, vop_type: str, *, when: Filter | None = None) -> Callable[[Handler], Handler]:
        """The handler of one virtual operation type (`producer_reward`, `fill_order`...)."""
        return self._route(vop_subject(vop_type), when)

    def on_block(self, handler: Handler) -> Handler:
        """The handler of `steem.block`, published after each block's operations."""
        return self._route(BLOCK_SUBJECT, None)(handler)

    def on_fork(self, handler: Handler) -> Handler:
        """The handler of `steem.fork` (head mode): the blocks a fork abandoned."""
        return self._route(FORK_SUBJECT, None)(handler)

    def on_included(self, handler: Handler) -> Handler:
        """The handler of this worker's actions once a block includes them: the body has
        the request `id`, `account`, `operations`, `trx_id` and `block_num`."""
        return self._route(tx_included_subject(self.name), None)(handler)

    def on_failed(self, handler: Handler) -> Handler:
        """The handler of this worker's actions the chain refused for good: the body has
        the request `id`, `account`, `operations` and the `reason`."""
        return self._route(tx_failed_subject(self.name), None)(handler)

    def on_subject(
        self, subject: str, *, when: Filter | None = None
    ) -> Callable[[Handler], Handler]:
        """The handler of any subject of the contract; `*` and `>` work as in NATS
        (`steem.tx.request.>`: every worker's requests, as the signer reads them)."""
        return self._route(subject, when)

    def on_start(self, hook: StartHook) -> StartHook:
        """Called with the settings (and the `Service`, if it takes two arguments: NATS is
        up) before anything is consumed: say what the worker does, make what its handlers
        need; raise ConfigError for a setting that cannot work, or `Idle("why")` when
        optional settings are missing (the worker stays up, idle). An async hook may wait
        (a node checked at start); SIGTERM cancels it."""
        self._on_start.append(hook)
        return hook

    def on_running(self, task: Background) -> Background:
        """`task(service)` runs beside the consumers until the stop (a loop of the
        worker's own); if it fails, the worker stops with the error."""
        self._running.append(task)
        return task

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

    def _route_of(self, subject: str) -> _Route | None:
        exact = self._routes.get(subject)
        if exact is not None:
            return exact
        return next((r for s, r in self._routes.items() if subject_matches(s, subject)), None)

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
            once_per_operation=d.once_per_operation,
        )

    async def _main(self, service: Service[S]) -> None:
        settings = service.settings
        try:
            for hook in self._on_start:
                result = hook(settings, service) if _takes_two(hook) else hook(settings)
                if inspect.isawaitable(result) and not await _unless_stopped(result, service.stop):
                    return  # SIGTERM while the hook waited (for a node, say)
        except Idle as why:
            await service.idle(str(why))
            return
        context = Context(settings, self.params(settings), JetStreamOutlet(service.js))

        async def handle(msg: Msg) -> Verdict:
            return await self.dispatch(msg, context)

        plan = consumer_plan(self.name, list(self._routes))
        async with asyncio.TaskGroup() as tasks:  # one failing stops the others
            tasks.create_task(run_consumers(service, self.name, plan, context.params, handle))
            for task in self._running:
                tasks.create_task(task(service))

    # -- one message ---------------------------------------------------------------------

    async def dispatch(self, msg: Msg, context: "Context") -> Verdict:
        """Hand `msg` to its handler and turn the outcome into what the server hears."""
        params, outlet = context.params, context.outlet
        subject = (msg.headers or {}).get(HEADER_DEAD_SUBJECT) or msg.subject
        meta = Meta.of(msg, subject, context.settings, self.name, outlet.store, context)
        where = describe(subject, meta.block_num, meta.msg_id)
        route = self._route_of(subject)
        try:
            body = json.loads(msg.data)
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            log.error("malformed message on %s: %s", where, err)
            return await self._give_up(
                msg, meta, where, f"malformed message: {err}", params, outlet
            )
        if route is None:
            return await self._give_up(msg, meta, where, "no handler for it", params, outlet)
        try:
            if route.when is not None and not route.passes(body, meta):
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
                return await self._give_up(msg, meta, where, reason, params, outlet)
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
        outlet: Outlet,
    ) -> Verdict:
        """Keep a copy as a dead letter, then terminate it; if the copy cannot be stored
        now, the message comes back later instead."""
        letter = dead_letter(msg, self.name, meta.subject, reason, meta.delivery)
        try:
            await outlet.store(*letter)
        except (nats.errors.Error, TimeoutError) as err:
            log.warning("cannot keep %s as a dead letter yet (%r); it comes back later", where, err)
            return retry_in(params.retry_delay)
        log.error(
            "gave up on %s after %d attempts (%s); kept on %s, replay with: steem-dead replay %s",
            where, meta.delivery, reason, letter[0], self.name,
        )  # fmt: skip
        return DEAD
