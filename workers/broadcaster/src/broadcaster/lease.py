"""One active broadcaster at a time, others on standby: a lease in a NATS key-value bucket.

The active broadcaster holds the key `broadcaster` and renews it every third of its
time to live; the bucket drops an entry that is not renewed in time, and a standby, which
tries to create the key every second, takes over within about LEASE_TTL seconds and
resumes from the checkpoint. A broadcaster publishes a block only while its last renewal
is recent, and steps down as soon as it finds the key in other hands. A restarted
broadcaster (same honcho process name on the same host) takes its own lease back at once.
"""

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable

import nats.errors
import nats.js.errors
from ipc_config import LEASE_BUCKET, LEASE_KEY, LEASE_TTL
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue
from steem_worker.connection import ensure_bucket
from steem_worker.status import instance_name

log = logging.getLogger(__name__)

STANDBY_POLL = 1.0
_TRANSIENT = (nats.errors.Error, asyncio.TimeoutError, OSError)


class LeaseLost(Exception):
    """Another broadcaster holds the lease now: stop publishing."""


def owner_name(process: str) -> str:
    """`broadcaster.1@host:/srv/app`: the same after a restart, different for a standby
    (another machine, another honcho process, or another folder on the same machine)."""
    return f"{instance_name(process)}@{socket.gethostname()}:{os.getcwd()}"


async def lease_bucket(js: JetStreamContext, ttl: float, replicas: int) -> KeyValue:
    return await ensure_bucket(
        js,
        KeyValueConfig(
            bucket=LEASE_BUCKET, history=1, ttl=ttl, storage=StorageType.FILE, replicas=replicas
        ),
    )


class Lease:
    def __init__(
        self, js: JetStreamContext, owner: str, replicas: int = 1, ttl: float = LEASE_TTL
    ) -> None:
        self._js = js
        self._replicas = replicas
        self.owner = owner
        self._ttl = ttl
        self._bucket: KeyValue | None = None
        self._revision = 0
        self._renewed_at = float("-inf")
        self._lost_to: str | None = None
        self._keeper: asyncio.Task | None = None

    def _value(self) -> bytes:
        return json.dumps({"owner": self.owner, "renewed_at": time.time()}).encode()

    async def acquire(
        self, stop: asyncio.Event, on_standby: Callable[[str], None] = lambda holder: None
    ) -> bool:
        """Wait until we hold the lease (True) or `stop` is set (False); then keep it.

        `on_standby(holder)` is called when another broadcaster holds it.
        """
        waiting_for: str | None = None
        while not stop.is_set():
            try:
                if await self._try_acquire():
                    log.info("holding the broadcaster lease as %s", self.owner)
                    self._keeper = asyncio.ensure_future(self._keep())
                    return True
                holder = await self._holder()
                if holder != waiting_for:
                    waiting_for = holder
                    log.info("standby: %s is broadcasting; waiting to take over", holder)
                    on_standby(holder)
            except _TRANSIENT as err:
                log.debug("lease: %r", err)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), STANDBY_POLL)
        return False

    async def _try_acquire(self) -> bool:
        if self._bucket is None:
            self._bucket = await lease_bucket(self._js, self._ttl, self._replicas)
        try:
            self._revision = await self._bucket.create(LEASE_KEY, self._value())
        except nats.js.errors.KeyWrongLastSequenceError:
            entry = await self._bucket.get(LEASE_KEY)
            if _owner_of(entry.value) != self.owner:
                return False
            # Our own lease, left by our previous run: take it back at once.
            self._revision = await self._bucket.update(LEASE_KEY, self._value(), entry.revision)
        self._renewed_at = time.monotonic()
        return True

    async def _holder(self) -> str:
        try:
            entry = await self._bucket.get(LEASE_KEY)
        except nats.js.errors.KeyNotFoundError:
            return "nobody"
        return _owner_of(entry.value)

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            try:
                self._revision = await self._bucket.update(LEASE_KEY, self._value(), self._revision)
                self._renewed_at = time.monotonic()
            except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError):
                if await self._take_back():
                    continue
                self._lost_to = await self._holder_or_unknown()
                log.error("lost the broadcaster lease to %s", self._lost_to)
                return
            except _TRANSIENT as err:
                log.warning("could not renew the broadcaster lease (%s)", type(err).__name__)

    async def _take_back(self) -> bool:
        """After an outage longer than the lease: take it again if nobody else did."""
        try:
            if await self._try_acquire():
                log.info("the broadcaster lease expired meanwhile; took it back")
                return True
        except _TRANSIENT as err:
            log.debug("lease: %r", err)
        return False

    async def _holder_or_unknown(self) -> str:
        try:
            return await self._holder()
        except _TRANSIENT:
            return "another broadcaster"

    async def hold(self, stop: asyncio.Event) -> bool:
        """Wait until we may publish (renewed recently): True, or False once `stop` is set.

        Raises LeaseLost if another broadcaster took over.
        """
        while time.monotonic() - self._renewed_at > self._ttl * 2 / 3:
            if self._lost_to is not None:
                raise LeaseLost(self._lost_to)
            if stop.is_set():
                return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
        return True

    async def release(self) -> None:
        """Give the lease up on a clean stop, so a standby takes over at once."""
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        if self._bucket is not None and self._lost_to is None and self._revision:
            with contextlib.suppress(*_TRANSIENT, nats.js.errors.KeyWrongLastSequenceError):
                await asyncio.wait_for(self._bucket.delete(LEASE_KEY, last=self._revision), 1.0)


def _owner_of(value: bytes | None) -> str:
    try:
        return json.loads(value or b"{}").get("owner", "unknown")
    except ValueError:
        return "unknown"
