"""`steem-dead`: the messages workers gave up on, and sending them back.

    steem-dead                         every dead letter, a line each
    steem-dead list [WORKER] [--json]  those of one worker; --json for scripts
    steem-dead replay WORKER [--seq N ...]
                                       back to WORKER alone (all, or those sequences),
                                       then removed from the dead letters

A worker gives up on a message after WORKER_MAX_DELIVER failed attempts and keeps it on
`steem.dead.<worker>` with the error. Fix the cause (a bug, a node down), then replay:
the worker handles each letter again, as it came, under its own id. Exit codes: 0 done;
1 NATS cannot be reached; 2 a malformed setting or argument.
"""

import argparse
import asyncio
import json
import sys

from ipc_config import NatsSettings, worker_name_is_valid
from ipc_config.settings import load_settings
from steem_worker.dead_letters import Letter, read_letters, replay_letters

from steem_status.reach import EXIT_UNREACHABLE, Unreachable, connected
from steem_status.render import table

PROCESS = "steem-dead"
PREVIEW = 60  # characters of a payload shown in the table


def letter_json(letter: Letter) -> dict:
    return {
        "seq": letter.seq,
        "worker": letter.worker,
        "subject": letter.subject,
        "msg_id": letter.msg_id,
        "error": letter.error,
        "deliveries": letter.deliveries,
        "data": letter.data.decode(errors="replace"),
    }


def letter_lines(letters: list[Letter]) -> str:
    if not letters:
        return "no dead letters"
    rows = [
        (str(x.seq), x.worker, x.subject, x.msg_id, str(x.deliveries), x.error[:PREVIEW])
        for x in letters
    ]
    return "\n".join(table(("SEQ", "WORKER", "SUBJECT", "ID", "ATTEMPTS", "ERROR"), rows))


async def list_letters(settings: NatsSettings, worker: str | None, as_json: bool) -> str:
    async with connected(settings, PROCESS) as js:
        letters = await read_letters(js, worker)
    if as_json:
        return json.dumps([letter_json(x) for x in letters], indent=2)
    return letter_lines(letters)


async def replay(settings: NatsSettings, worker: str, seqs: list[int] | None) -> str:
    async with connected(settings, PROCESS) as js:
        sent = await replay_letters(js, worker, set(seqs) if seqs else None)
    if not sent:
        return f"no dead letters of {worker} to replay"
    return f"sent {len(sent)} dead letters back to {worker}: " + ", ".join(str(x.seq) for x in sent)


def _worker(text: str) -> str:
    if not worker_name_is_valid(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a worker name")
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROCESS, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    listing = commands.add_parser("list", help="the dead letters (of one worker)")
    listing.add_argument("worker", nargs="?", type=_worker)
    listing.add_argument("--json", action="store_true", help="a JSON list, for scripts")
    replaying = commands.add_parser("replay", help="send a worker's dead letters back to it")
    replaying.add_argument("worker", type=_worker)
    replaying.add_argument("--seq", type=int, nargs="+", help="only these dead letters")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = load_settings(NatsSettings, PROCESS)
    try:
        if args.command == "replay":
            text = asyncio.run(replay(settings, args.worker, args.seq))
        else:
            worker, as_json = getattr(args, "worker", None), getattr(args, "json", False)
            text = asyncio.run(list_letters(settings, worker, as_json))
    except Unreachable as err:
        print(f"{PROCESS}: {err}", file=sys.stderr, flush=True)
        sys.exit(EXIT_UNREACHABLE)
    print(text, flush=True)
