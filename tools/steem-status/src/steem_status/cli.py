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
import sys

from ipc_config import NatsSettings
from ipc_config.settings import load_settings

from steem_status.collect import SystemStatus, read_status
from steem_status.reach import EXIT_UNREACHABLE, SNAPSHOT_TIMEOUT, Unreachable, connected
from steem_status.render import render

PROCESS = "steem-status"
DEFAULT_WATCH = 2.0
CLEAR_SCREEN = "\x1b[H\x1b[2J"


async def snapshot(settings: NatsSettings) -> SystemStatus:
    """Connect, read everything, disconnect: within a few seconds, or raise Unreachable."""
    async with connected(settings, PROCESS) as js:
        return await asyncio.wait_for(read_status(js, settings.safe_urls), SNAPSHOT_TIMEOUT)


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
