"""`steem-status`: prints the state of a running system, read from NATS.

    steem-status                 a table for people
    steem-status --json          one JSON document (see SystemStatus.to_json)
    steem-status --watch [S]     refresh every S seconds (default 2) until Ctrl-C

Exit codes: 0 it printed the state (even if parts are missing: no stream, no broadcaster
report); 1 NATS cannot be reached or does not answer; 2 NATS_URL is malformed.
"""

import argparse
import asyncio
import json
import signal
import socket
import sys

import nats
import nats.errors
from ipc_config import NatsSettings
from ipc_config.settings import load_settings
from nats.js.errors import ServiceUnavailableError
from steem_worker.connection import connect_options

from steem_status.collect import SystemStatus, read_status
from steem_status.render import render

PROCESS = "steem-status"
EXIT_UNREACHABLE = 1
DEFAULT_WATCH = 2.0
CONNECT_TIMEOUT = 2.0  # per attempt; nats-py makes two per server
REQUEST_TIMEOUT = 2.0  # per JetStream request
SNAPSHOT_TIMEOUT = 8.0  # the whole reading, however many requests it takes
CLEAR_SCREEN = "\x1b[H\x1b[2J"


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


async def snapshot(settings: NatsSettings) -> SystemStatus:
    """Connect, read everything, disconnect: within a few seconds, or raise Unreachable."""
    failures: list[Exception] = []

    async def remember(err: Exception) -> None:  # instead of nats-py logging a traceback
        failures.append(err)

    where = settings.safe_urls
    try:
        nc = await asyncio.wait_for(
            nats.connect(
                servers=list(settings.urls),
                name=PROCESS,
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
        raise Unreachable(f"cannot reach NATS at {where}: {reason(cause)}") from None
    try:
        js = nc.jetstream(timeout=REQUEST_TIMEOUT)
        return await asyncio.wait_for(read_status(js, where), SNAPSHOT_TIMEOUT)
    except ServiceUnavailableError:
        raise Unreachable(f"NATS at {where} answers, but not JetStream: is it enabled?") from None
    except (OSError, TimeoutError, nats.errors.Error) as err:
        raise Unreachable(f"NATS at {where} did not answer: {reason(err)}") from None
    finally:
        await nc.close()


def output(status: SystemStatus, as_json: bool, compact: bool = False) -> str:
    if as_json:
        return json.dumps(status.to_json(), indent=None if compact else 2)
    return render(status)


async def watch(settings: NatsSettings, every: float, as_json: bool) -> None:
    """Print the state every `every` seconds until SIGINT (Ctrl-C) or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    clear = not as_json and sys.stdout.isatty()
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            reading = asyncio.ensure_future(snapshot(settings))
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                reading.cancel()
                return
            if clear:
                print(CLEAR_SCREEN, end="")
            try:
                print(output(reading.result(), as_json, compact=True), flush=True)
            except Unreachable as err:
                print(f"{PROCESS}: {err}; retrying every {every:g} s", file=sys.stderr, flush=True)
            if not as_json and not clear:
                print(flush=True)  # a blank line between two screens
            await asyncio.wait({stopping}, timeout=every)
    finally:
        stopping.cancel()


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return seconds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROCESS,
        description="The state of the running steem-bot system, read from NATS at NATS_URL: "
        "the stream STEEM, the broadcaster's position, the durable consumers and every "
        "process's last report.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    parser.add_argument(
        "--watch",
        nargs="?",
        const=DEFAULT_WATCH,
        type=_positive_seconds,
        metavar="SECONDS",
        help=f"refresh every SECONDS (default {DEFAULT_WATCH:g}) until Ctrl-C",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = load_settings(NatsSettings, PROCESS)  # a malformed NATS_URL: one line, exit 2
    if args.watch is not None:
        asyncio.run(watch(settings, args.watch, args.json))
        sys.exit(0)
    try:
        status = asyncio.run(snapshot(settings))
    except KeyboardInterrupt:
        sys.exit(130)
    except Unreachable as err:
        print(f"{PROCESS}: {err}", file=sys.stderr, flush=True)
        sys.exit(EXIT_UNREACHABLE)
    print(output(status, args.json), flush=True)
