"""Reaching NATS once, for a command that reads or acts and then exits.

    async with connected(settings, "steem-dead") as js:
        ...                       # Unreachable: NATS or its JetStream did not answer

Within a few seconds or not at all: the command says so in one line and exits 1. It
connects as the app's processes do (`connect_options`): with the credentials the settings
name, or else the bundled server's nkey found in the working directory.
"""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import nats
import nats.errors
from ipc_config import NatsSettings
from nats.js import JetStreamContext
from nats.js.errors import ServiceUnavailableError
from steem_worker.connection import connect_options

EXIT_UNREACHABLE = 1
CONNECT_TIMEOUT = 2.0  # per attempt; nats-py makes two per server
REQUEST_TIMEOUT = 2.0  # per JetStream request
SNAPSHOT_TIMEOUT = 8.0  # the whole reading, however many requests it takes


class Unreachable(Exception):
    """NATS (or its JetStream) did not answer; the message names the URL and the reason."""


def reason(err: BaseException) -> str:
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, TimeoutError | nats.errors.TimeoutError):
        return "no answer in time"
    if isinstance(err, socket.gaierror):
        return f"unknown host ({err.strerror})"
    return str(err) or type(err).__name__


@contextlib.asynccontextmanager
async def connected(settings: NatsSettings, name: str) -> AsyncIterator[JetStreamContext]:
    """JetStream on a connection of its own, closed afterwards; Unreachable if it fails."""
    failures: list[Exception] = []

    async def remember(err: Exception) -> None:  # instead of nats-py logging a traceback
        failures.append(err)

    where = settings.safe_urls
    try:
        nc = await asyncio.wait_for(
            nats.connect(
                servers=list(settings.urls),
                name=name,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.2,
                connect_timeout=CONNECT_TIMEOUT,
                error_cb=remember,
                **connect_options(settings),
            ),
            SNAPSHOT_TIMEOUT,
        )
    except (OSError, TimeoutError, nats.errors.Error) as err:
        cause = failures[-1] if failures else err
        if "authorization violation" in str(cause).lower():
            raise Unreachable(
                f"NATS at {where} refused our credentials ({cause}); "
                "check NATS_URL, NATS_CREDS and NATS_NKEY"
            ) from None
        raise Unreachable(f"cannot reach NATS at {where}: {reason(cause)}") from None
    try:
        yield nc.jetstream(timeout=REQUEST_TIMEOUT)
    except ServiceUnavailableError:
        raise Unreachable(f"NATS at {where} answers, but not JetStream: is it enabled?") from None
    except (OSError, TimeoutError, nats.errors.Error) as err:
        raise Unreachable(f"NATS at {where} did not answer: {reason(err)}") from None
    finally:
        await nc.close()
