"""Connecting to NATS and making sure the STEEM stream exists.

Workers start alongside nats-server under honcho, so a refused connection at start is
normal: we wait (logging once, then every half minute) instead of crashing in a loop.
Once connected, nats-py reconnects on its own for ever; we log each change of state.

Credentials are what the settings name; settings that name none also offer the bundled
server's nkey when nats-local made one for their port (`NatsSettings.local_credentials`).
"""

import asyncio
import contextlib
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import nats
from ipc_config import ConfigError, NatsSettings, StreamSettings, all_stream_configs
from ipc_config.backoff import Backoff
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

T = TypeVar("T")

DRAIN_TIMEOUT = 2.0  # keeps a stop well inside honcho's 5 s before SIGKILL
RECONNECT_WAIT = 0.5  # seconds between attempts; nats-server restarts in about a second
_REMIND_EVERY = 30.0
_FIRST_WAIT_LINE_AFTER = 2.0


class NatsRefused(ConfigError):
    """The server refused our credentials or our stream: retrying will not help, the
    settings must change."""


def _is_auth_error(err: Exception) -> bool:
    if isinstance(err, nats.errors.AuthorizationError | nats.errors.InvalidUserCredentialsError):
        return True
    return "authorization violation" in str(err).lower() or "authentication" in str(err).lower()


class _ConnectionLog:
    """Turns nats-py's per-attempt error callbacks into a few readable lines."""

    def __init__(self, settings: NatsSettings) -> None:
        self._where = settings.safe_urls
        self._connected_once = False
        self._last_line = 0.0
        self._failures = 0
        self.client: Client | None = None
        self.refused = asyncio.Event()
        self.refusal: Exception | None = None

    async def on_error(self, err: Exception) -> None:
        if not self._connected_once and _is_auth_error(err):
            self.refusal = err
            self.refused.set()
            return
        self._failures += 1
        now = time.monotonic()
        if self._failures == 1:
            # Say nothing yet: a server refusing our credentials often resets the socket
            # first, and NATS starting next to us answers within a second or two.
            self._last_line = now - _REMIND_EVERY + _FIRST_WAIT_LINE_AFTER
            return
        if now - self._last_line >= _REMIND_EVERY:
            self._last_line = now
            state = "lost" if self._connected_once else "waiting for"
            reason = str(err) or type(err).__name__
            log.warning("%s NATS at %s (%s); retrying", state, self._where, reason)

    async def on_connected(self) -> None:
        self._connected_once = True
        self._failures = 0

    async def on_disconnected(self) -> None:
        closing = self.client is not None and (self.client.is_closed or self.client.is_draining)
        if self._connected_once and not closing:
            log.warning("disconnected from NATS at %s", self._where)

    async def on_reconnected(self) -> None:
        self._failures = 0
        log.info("reconnected to NATS at %s", self._where)


def connect_options(settings: NatsSettings, workdir: Path | None = None) -> dict[str, Any]:
    """NATS_CREDS, NATS_NKEY and TLS as options of `nats.connect`, or else the bundled
    server's nkey if nats-local made one for this port (in `workdir`, default here)."""
    options: dict[str, Any] = {}
    if settings.creds_file is not None:
        options["user_credentials"] = str(settings.creds_file)
    # nats-py reads the seed file itself, at each signature: it never passes through us.
    nkey_file = settings.nkey_file or settings.local_credentials(workdir)
    if nkey_file is not None:
        options["nkeys_seed"] = str(nkey_file)
    if settings.uses_tls:
        cafile = str(settings.tls_ca_file) if settings.tls_ca_file else None
        options["tls"] = ssl.create_default_context(cafile=cafile)
    return options


async def connect(settings: NatsSettings, name: str) -> Client:
    """Connect to NATS, waiting for as long as it takes; reconnect on loss for ever.

    Raises NatsRefused when the server rejects our credentials at the first connect.
    """
    offered = _local_file_state(settings)
    while True:
        try:
            return await _connect(settings, name)
        except NatsRefused:
            # nats-local writes its seed before its server listens: a client started
            # before that (a first start, a wiped `.data`) tries again with the new seed.
            now = _local_file_state(settings)
            if now is None or now == offered:
                raise
            log.debug("the local NATS's credentials changed; connecting with them")
            offered = now


def _local_file_state(settings: NatsSettings) -> tuple[int, int, int] | None:
    """Which seed file connect_options offers now (inode and time), None if none."""
    path = settings.local_credentials()
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_mtime_ns


async def _connect(settings: NatsSettings, name: str) -> Client:
    events = _ConnectionLog(settings)
    connecting = asyncio.ensure_future(
        nats.connect(
            servers=list(settings.urls),
            name=name,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=RECONNECT_WAIT,
            connect_timeout=2,
            drain_timeout=DRAIN_TIMEOUT,
            error_cb=events.on_error,
            disconnected_cb=events.on_disconnected,
            reconnected_cb=events.on_reconnected,
            **connect_options(settings),
        )
    )
    refused = asyncio.ensure_future(events.refused.wait())
    await asyncio.wait([connecting, refused], return_when=asyncio.FIRST_COMPLETED)
    refused.cancel()
    if not connecting.done():
        connecting.cancel()
        raise NatsRefused(
            f"NATS at {settings.safe_urls} refused our credentials ({events.refusal}); "
            "check NATS_URL, NATS_CREDS and NATS_NKEY"
        )
    nc = connecting.result()
    events.client = nc
    await events.on_connected()
    log.info("connected to NATS at %s", settings.safe_urls)
    return nc


async def when_answered(
    action: Callable[[], Awaitable[T]], stop: asyncio.Event, what: str
) -> T | None:
    """`action()`, tried again while JetStream does not answer: it starts a moment after
    the server, a cluster elects a leader for a few seconds, and a server without
    JetStream never answers (we say so every half minute). None if `stop` came first."""
    said_at = None
    backoff = Backoff(start=RECONNECT_WAIT, cap=5.0)
    while not stop.is_set():
        try:
            return await action()
        except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError) as err:
            now = time.monotonic()
            if said_at is None or now - said_at >= _REMIND_EVERY:
                said_at = now
                log.warning(
                    "JetStream does not answer %s yet (%s); waiting. Is JetStream enabled "
                    "on the server (nats-server -js)?",
                    what, type(err).__name__,
                )  # fmt: skip
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff.next())
    return None


async def ensure_streams(
    js: JetStreamContext, settings: StreamSettings, stop: asyncio.Event | None = None
) -> bool:
    """Create the streams (STEEM, STEEM_DEAD, STEEM_TX), or bring existing ones to the
    configured limits, once JetStream answers. Returns False if `stop` was set meanwhile."""

    async def ensure_all() -> bool:
        try:
            for config in all_stream_configs(settings):
                await _ensure_one(js, config)
        except (BadRequestError, nats.js.errors.ServerError) as err:
            # Not passing trouble: the server will not take this configuration.
            raise NatsRefused(
                f"NATS refused the stream settings ({err.description or err}); check "
                "STREAM_REPLICAS (at most the number of servers) and the other STREAM_ settings"
            ) from None
        return True

    return bool(await when_answered(ensure_all, stop or asyncio.Event(), "about the streams"))


async def _ensure_one(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s", config.name)
    else:
        await js.update_stream(config)


async def ensure_bucket(js: JetStreamContext, config: KeyValueConfig) -> KeyValue:
    """The key-value bucket of `config`, created on first use by whichever process is first,
    with as many replicas as `config` asks (grown or shrunk along with STREAM_REPLICAS)."""
    try:
        bucket = await js.key_value(config.bucket)
    except nats.js.errors.BucketNotFoundError:
        try:
            return await js.create_key_value(config)
        except BadRequestError:  # another process created it meanwhile
            bucket = await js.key_value(config.bucket)
    await _match_replicas(js, f"KV_{config.bucket}", config.replicas)
    return bucket


async def _match_replicas(js: JetStreamContext, stream: str, replicas: int) -> None:
    """Bring a bucket's stream to `replicas` copies; its other settings stay as they are.

    A refusal is not fatal: the bucket works as it is (the stream itself, checked at start
    by `ensure_stream`, is what a wrong STREAM_REPLICAS stops on).
    """
    info = await js.stream_info(stream)
    had = info.config.num_replicas or 1
    if had == replicas:
        return
    try:
        await js.update_stream(replace(info.config, num_replicas=replicas))
    except (BadRequestError, nats.js.errors.ServerError) as err:
        log.warning(
            "NATS refused %d replicas for %s (%s); it keeps %d",
            replicas, stream, err.description or err, had,
        )  # fmt: skip
        return
    log.info("%s now has %d replicas (had %d)", stream, replicas, had)


async def connect_unless_stopped(
    settings: NatsSettings, name: str, stop: asyncio.Event
) -> Client | None:
    """`connect()`, given up when `stop` is set first (SIGTERM while NATS is still down)."""
    connecting = asyncio.ensure_future(connect(settings, name))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([connecting, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if connecting.done():
        return connecting.result()
    connecting.cancel()
    return None


async def close(nc: Client) -> None:
    """Drain (flush what is buffered, then close) if connected; just close otherwise."""
    if nc.is_connected:
        try:
            # nats-py bounds the drain itself (drain_timeout): cancelling it from outside
            # leaves its internal futures unretrieved, which asyncio reports as an error.
            await nc.drain()
        except Exception:  # closing is best effort; close() below is the fallback
            log.debug("drain did not finish; closing", exc_info=True)
    if not nc.is_closed:
        try:
            await nc.close()
        except (OSError, nats.errors.Error) as err:  # the server went away first
            log.debug("close: %r", err)
