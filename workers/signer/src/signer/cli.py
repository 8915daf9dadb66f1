"""`signer`: the one process that holds keys. It signs each action the workers ask for
once, stores it before broadcasting it, and says what became of it.

    STEEM_KEYS=5K... signer        # or STEEM_KEYS_FILE=~/.steem-keys (mode 600)

It reads `steem.tx.request.>` (stream STEEM_TX) to take requests, and `steem.block` and
`steem.fork` (stream STEEM) to see its transactions land; its own loop (`Engine`) signs,
broadcasts and settles them. Without keys it says so once and idles. See docs/acting.md.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from ipc_config import TX_REQUEST_PREFIX, ConfigError
from steem_worker import Drop, Idle, Meta, Service, Worker

from signer.engine import Engine, Identity
from signer.keys import KeyProblem, KeyRing, build_ring
from signer.node import Nodes
from signer.outcomes import Outcomes
from signer.records import BadRequest, Record
from signer.settings import SignerSettings
from signer.store import Stopping, TxStore
from signer.view import View

log = logging.getLogger(__name__)

T = TypeVar("T")

# A request in hand is never given up: its handler only waits for NATS. A high attempt
# count keeps it out of the dead letters through any number of restarts.
worker = Worker("signer", settings=SignerSettings, max_deliver=10_000, retry_delay=1.0)


class _Started:
    """What the start hook checked (the keys), then the engine once the store is read."""

    def __init__(self) -> None:
        self.nodes: Nodes | None = None
        self.ring: KeyRing | None = None
        self.engine: Engine | None = None
        self.ready = asyncio.Event()
        self.stop: asyncio.Event | None = None

    async def engine_when_ready(self) -> Engine:
        if not self.ready.is_set():
            await _until(self.ready.wait(), self.stop or asyncio.Event())
            if not self.ready.is_set():
                raise Stopping
        assert self.engine is not None
        return self.engine


started = _Started()


@worker.on_start
async def check_keys(settings: SignerSettings) -> None:
    """Idle without keys; ConfigError for a key that is malformed or that no account on
    the node holds. Waits for a node as long as it takes (SIGTERM ends the wait)."""
    try:
        keys = settings.read_keys()
    except KeyProblem as problem:  # the file changed since the settings were read
        raise ConfigError(f"{settings.keys_variable}: {problem}") from None
    if not keys:
        raise Idle("STEEM_KEYS is not set: signing nothing")
    nodes = started.nodes = Nodes.from_settings(settings)
    references = await nodes.key_references([key.public for key in keys])
    names = sorted({name for found in references for name in found})
    accounts = await nodes.accounts(names) if names else {}
    started.ring = build_ring(keys, references, accounts, settings.keys_variable)
    for account, roles in started.ring.accounts().items():
        log.info("signing for @%s (%s)", account, ", ".join(roles))


@worker.on_running
async def sign_requests(service: Service[SignerSettings]) -> None:
    started.stop = service.stop
    try:
        with contextlib.suppress(Stopping):
            await _until(_serve(service), service.stop)
    finally:
        if started.nodes is not None:
            started.nodes.close()


async def _serve(service: Service[SignerSettings]) -> None:
    assert started.nodes is not None and started.ring is not None
    settings = service.settings
    identity = Identity.mine(service.status.instance)
    store = TxStore(service.js, identity.id, settings.replicas, service.stop)
    await store.open()
    view = View()
    outcomes = Outcomes(service.js, store, view)

    def report() -> None:
        service.status.update(actions={"accounts": view.counts.by_account()})

    engine = Engine(settings, started.ring, started.nodes, store, view, outcomes, identity, report)
    while records := await store.changes():
        for record in records:
            view.remember(record)
    opened = sum(1 for record in view.open.values() if not record.final)
    log.info("%d requests in the store, %d of them open", len(view.counts), opened)
    started.engine = engine
    started.ready.set()
    await engine.run(service.stop)


@worker.on_subject(TX_REQUEST_PREFIX + ">")
async def take_request(request: dict[str, Any], meta: Meta) -> None:
    engine = await started.engine_when_ready()
    try:
        record = Record.from_request(request)
    except BadRequest as err:
        raise Drop(str(err)) from None
    created = await engine.store.create(record)
    if created is None:
        log.info("request %s seen before; not taken again", record.id)
        return
    engine.view.remember(created)
    engine.wake.set()
    log.info("received %s: %s as @%s", record.id, record.describe(), record.account)


@worker.on_block
async def settle_block(block: dict[str, Any], meta: Meta) -> None:
    engine = await started.engine_when_ready()
    await engine.saw_block(block)


@worker.on_fork
async def undo_fork(fork: dict[str, Any], meta: Meta) -> None:
    engine = await started.engine_when_ready()
    await engine.saw_fork(fork)


async def _until(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """`work`, cancelled when `stop` is set first (a node read that retries for ever)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Stopping):
        await task
    return None


def main() -> None:
    worker.run()
