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
    """What the start hook made: the nodes, then the engine on the store it read."""

    nodes: Nodes | None = None
    engine: Engine | None = None


started = _Started()


async def check_keys(settings: SignerSettings, nodes: Nodes) -> KeyRing:
    """Which account and authority holds each key, as the node says; ConfigError for a
    key that is malformed or that no account holds."""
    try:
        keys = settings.read_keys()
    except KeyProblem as problem:  # the file changed since the settings were read
        raise ConfigError(f"{settings.keys_variable}: {problem}") from None
    references = await nodes.key_references([key.public for key in keys])
    names = sorted({name for found in references for name in found})
    accounts = await nodes.accounts(names) if names else {}
    ring = build_ring(keys, references, accounts, settings.keys_variable)
    for account, roles in ring.accounts().items():
        log.info("signing for @%s (%s)", account, ", ".join(roles))
    return ring


@worker.on_start
async def start(settings: SignerSettings, service: Service[SignerSettings]) -> None:
    """Idle without keys; the keys checked on a node (as long as it takes: SIGTERM ends
    the wait), then the store read, before anything is consumed."""
    if not settings.keys and not settings.keys_file:
        raise Idle("STEEM_KEYS is not set: signing nothing")
    nodes = started.nodes = Nodes.from_settings(settings)
    ring = await check_keys(settings, nodes)
    identity = Identity.mine(service.status.instance)
    store = TxStore(service.js, identity.id, settings.replicas, service.stop)
    view = View()
    try:
        await store.open()
        while records := await store.changes():
            for record in records:
                view.remember(record)
    except Stopping:
        return  # SIGTERM while NATS was away: nothing is consumed, nothing runs
    opened = sum(1 for record in view.open.values() if not record.final)
    log.info("%d requests in the store, %d of them open", len(view.counts), opened)

    def report() -> None:
        service.status.update(actions={"accounts": view.counts.by_account()})

    outcomes = Outcomes(service.js, store, view)
    started.engine = Engine(settings, ring, nodes, store, view, outcomes, identity, report)


@worker.on_running
async def sign_requests(service: Service[SignerSettings]) -> None:
    try:
        if started.engine is not None:  # None: stopped while starting
            with contextlib.suppress(Stopping):
                await _until(started.engine.run(service.stop), service.stop)
    finally:
        if started.nodes is not None:
            started.nodes.close()


@worker.on_subject(TX_REQUEST_PREFIX + ">")
async def take_request(request: dict[str, Any], meta: Meta) -> None:
    engine = _engine()
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
    await _engine().saw_block(block)


@worker.on_fork
async def undo_fork(fork: dict[str, Any], meta: Meta) -> None:
    await _engine().saw_fork(fork)


def _engine() -> Engine:
    if started.engine is None:  # stopped while starting: consumed nothing, takes nothing
        raise Stopping
    return started.engine


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
