"""Command line: ``restart-loop [options] [--] COMMAND [ARGS...]``."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from .policy import RestartPolicy
from .supervisor import Supervisor

T = TypeVar("T")

DEFAULT_DELAY = 3.0
DEFAULT_MAX_DELAY = 60.0
DEFAULT_HEALTHY_AFTER = 30.0
DEFAULT_STOP_TIMEOUT = 4.5  # below honcho's 5 s wait before its own SIGKILL
DEFAULT_NO_RESTART_CODES = "2"

EPILOG = """\
Each option's default can be set by an environment variable (the option
wins): RESTART_DELAY (3), RESTART_MAX_DELAY (60), RESTART_HEALTHY_AFTER (30),
RESTART_NO_RESTART_CODES (2), RESTART_STOP_TIMEOUT (4.5).

Exit codes: 0 stopped by SIGTERM/SIGINT/SIGHUP; 1 the child ignored the stop
signal and was SIGKILLed after --stop-timeout; N the child exited with N,
one of --no-restart-codes; 127 COMMAND could not be started; 2 also for
bad restart-loop arguments.
"""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0: {text!r}")
    return value


def _codes(text: str) -> frozenset[int]:
    codes = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            code = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an exit code: {part!r}") from None
        if not 0 <= code <= 255:
            raise argparse.ArgumentTypeError(f"exit code out of range 0-255: {part!r}")
        codes.add(code)
    return frozenset(codes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="restart-loop",
        description=(
            "Run COMMAND and restart it whenever it exits, with exponential backoff.\n"
            "Stop signals (SIGTERM, SIGINT, SIGHUP) are forwarded to it."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--name", help="name used in log lines (default: basename of COMMAND)")
    parser.add_argument(
        "--delay",
        type=_seconds,
        metavar="S",
        help=f"first restart delay in seconds (default {DEFAULT_DELAY:g})",
    )
    parser.add_argument(
        "--max-delay",
        type=_seconds,
        metavar="S",
        help=f"cap of the doubling delay (default {DEFAULT_MAX_DELAY:g})",
    )
    parser.add_argument(
        "--healthy-after",
        type=_seconds,
        metavar="S",
        help=(
            "a run at least this long resets the delay; shorter runs double it "
            f"(default {DEFAULT_HEALTHY_AFTER:g})"
        ),
    )
    parser.add_argument(
        "--no-restart-codes",
        type=_codes,
        metavar="N,...",
        help=(
            "comma-separated exit codes meaning 'configuration error': do not restart, "
            f"exit with the same code (default {DEFAULT_NO_RESTART_CODES}; '' for none)"
        ),
    )
    parser.add_argument(
        "--stop-timeout",
        type=_seconds,
        metavar="S",
        help=(
            "after forwarding a stop signal, SIGKILL the child if it is still running "
            f"after this long (default {DEFAULT_STOP_TIMEOUT:g})"
        ),
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARGS...]")
    return parser


def _resolve(
    parser: argparse.ArgumentParser,
    value: T | None,
    env: Mapping[str, str],
    var: str,
    convert: Callable[[str], T],
    default: str,
) -> T:
    if value is not None:
        return value
    text = env.get(var)
    try:
        return convert(text if text is not None else default)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"{var}: {exc}")
        raise  # unreachable: parser.error exits


def parse_args(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> tuple[argparse.Namespace, list[str]]:
    parser = build_parser()
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        parser.error("missing COMMAND")
    args.delay = _resolve(parser, args.delay, env, "RESTART_DELAY", _seconds, str(DEFAULT_DELAY))
    args.max_delay = _resolve(
        parser, args.max_delay, env, "RESTART_MAX_DELAY", _seconds, str(DEFAULT_MAX_DELAY)
    )
    args.healthy_after = _resolve(
        parser,
        args.healthy_after,
        env,
        "RESTART_HEALTHY_AFTER",
        _seconds,
        str(DEFAULT_HEALTHY_AFTER),
    )
    args.no_restart_codes = _resolve(
        parser,
        args.no_restart_codes,
        env,
        "RESTART_NO_RESTART_CODES",
        _codes,
        DEFAULT_NO_RESTART_CODES,
    )
    args.stop_timeout = _resolve(
        parser,
        args.stop_timeout,
        env,
        "RESTART_STOP_TIMEOUT",
        _seconds,
        str(DEFAULT_STOP_TIMEOUT),
    )
    return args, command


def main(argv: Sequence[str] | None = None) -> int:
    args, command = parse_args(argv)
    policy = RestartPolicy(
        delay=args.delay,
        max_delay=args.max_delay,
        healthy_after=args.healthy_after,
        no_restart_codes=args.no_restart_codes,
    )
    supervisor = Supervisor(
        command,
        name=args.name,
        policy=policy,
        stop_timeout=args.stop_timeout,
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
