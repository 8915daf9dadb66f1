"""The life of every long-running process, written once.

    async def main(service: Service[BroadcasterSettings]) -> None:
        ...  # work until service.stop is set, then return

    run_service("broadcaster", BroadcasterSettings, main)

In order: settings (`.env`, then the environment, checked) → logging → NATS → the streams
→ status reports for `steem-status` → `main` → a clean stop. SIGTERM or SIGINT sets
`service.stop`; `main` hands back what it holds and returns, and the process exits 0
within honcho's 5 s. A bad setting, or a NATS server that refuses our credentials or our
stream, is one line naming the cause and exit 2, which the restart loop does not retry;
any other error is logged and exits 1, which it does.
"""

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, NoReturn, TypeVar

from ipc_config import ConfigError, ServiceSettings, load_settings
from ipc_config.settings import exit_config_error
from nats.aio.client import Client
from nats.js import JetStreamContext

from steem_worker.connection import close, connect_unless_stopped, ensure_streams
from steem_worker.logs import setup_logging
from steem_worker.shutdown import stop_event
from steem_worker.status import StatusReporter

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)


class Idle(Exception):
    """Optional settings are missing: the process says why once and stays up, idle."""


@dataclass
class Service(Generic[S]):
    """What `main` works with: its settings, NATS, the stop signal and its status report."""

    name: str
    settings: S
    nc: Client
    js: JetStreamContext
    stop: asyncio.Event
    status: StatusReporter

    async def idle(self, reason: str) -> None:
        """Nothing to do without optional settings: say why once, then wait for the stop,
        so that `honcho start` keeps the other processes running."""
        log.warning("%s; idle", reason)
        self.status.set_state("idle")
        await self.stop.wait()


Main = Callable[[Service[S]], Awaitable[None]]


def run_service(
    name: str, settings_type: type[S], main: Main, *, state: str = "running"
) -> NoReturn:
    """Run `main` as the process `name`, from settings to a clean stop; never returns."""
    settings = load_settings(settings_type, name)
    setup_logging(name, settings.log_level)
    try:
        asyncio.run(serve(name, settings, main, state=state))
    except* ConfigError as errors:  # NatsRefused too: the settings must change, not the luck
        exit_config_error(name, errors.exceptions[0])
    except* Exception as errors:
        log.error("%s failed", name, exc_info=errors.exceptions[0])
        sys.exit(1)
    sys.exit(0)


async def serve(
    name: str,
    settings: S,
    main: Main,
    stop: asyncio.Event | None = None,
    state: str = "running",
) -> None:
    """Connect, make sure of the streams, report, run `main` until it returns.

    `stop` defaults to an event set by SIGTERM or SIGINT; tests pass their own.
    """
    stop = stop or stop_event()
    nc = await connect_unless_stopped(settings, name, stop)
    if nc is None:
        return
    try:
        js = nc.jetstream()
        if not await ensure_streams(js, settings, stop):
            return
        reporter = StatusReporter(js, name, replicas=settings.replicas, state=state)
        reporter.start()
        try:
            await main(Service(name, settings, nc, js, stop, reporter))
        finally:
            await reporter.stop()
    finally:
        await close(nc)
    log.info("stopped")
