"""The command line's options: ``replay-node [ARCHIVE]``, ``replay-node generate``,
``replay-node posts``."""

from __future__ import annotations

import argparse

from .chain_config import parse_time

__all__ = ["PROG", "generate_parser", "posts_parser", "serve_parser"]

PROG = "replay-node"


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _non_negative(kind: type) -> object:
    def parse(text: str) -> float | int:
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError("must be >= 0")
        return value

    parse.__name__ = kind.__name__
    return parse


def _block_list(text: str) -> frozenset[int]:
    try:
        return frozenset(int(x) for x in text.replace(" ", "").split(",") if x)
    except ValueError:
        raise argparse.ArgumentTypeError("expected block numbers like 5,7") from None


def _timestamp(text: str) -> int:
    try:
        return parse_time(text.rstrip("Z"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected YYYY-MM-DDTHH:MM:SS") from None


def _account(text: str) -> tuple[str, str]:
    name, _, key = text.partition(":")
    if not (name and key.startswith("STM")):
        raise argparse.ArgumentTypeError("expected NAME:STM... (an account and its public key)")
    return name, key


def serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="A local Steem JSON-RPC node serving recorded blocks. "
        f"Other commands: '{PROG} generate --help', '{PROG} posts --help'.",
    )
    p.add_argument(
        "archive",
        nargs="?",
        metavar="ARCHIVE",
        help="JSON Lines block archive (.jsonl or .jsonl.gz; default: the bundled sample)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090, help="0 picks a free port (default 8090)")
    p.add_argument(
        "--pace",
        type=_non_negative(float),
        default=3.0,
        metavar="SECONDS",
        help="seconds per new head block; 0: whole archive visible at once (default 3)",
    )
    p.add_argument(
        "--irreversible-lag",
        type=_non_negative(int),
        metavar="N",
        help="head - last irreversible block (default 0 with --pace 0, else 15)",
    )
    p.add_argument(
        "--latency",
        type=_non_negative(float),
        default=0.0,
        metavar="SECONDS",
        help="sleep before answering each JSON-RPC request",
    )
    p.add_argument(
        "--start-blocks",
        type=_non_negative(int),
        metavar="N",
        help="blocks visible at start (default: all with --pace 0, else 1)",
    )
    f = p.add_argument_group("fault injection (per POST request; never on GET /status)")
    f.add_argument("--seed", type=int, default=0, help="seed of the fault dice (default 0)")
    f.add_argument("--fail-503", type=_share, default=0.0, metavar="P", help="answer HTTP 503")
    f.add_argument(
        "--fail-truncate", type=_share, default=0.0, metavar="P", help="cut the JSON body"
    )
    f.add_argument(
        "--fail-rpc-error",
        type=_share,
        default=0.0,
        metavar="P",
        help='JSON-RPC error "Internal Error" for the whole request',
    )
    f.add_argument(
        "--fail-stall", type=_share, default=0.0, metavar="P", help="stall before answering"
    )
    f.add_argument(
        "--stall-seconds",
        type=_non_negative(float),
        default=5.0,
        metavar="S",
        help="length of a stall (default 5)",
    )
    f.add_argument(
        "--null-blocks",
        type=_block_list,
        default=frozenset(),
        metavar="N,M",
        help="get_block of these blocks answers {} / null as if missing",
    )
    f.add_argument(
        "--null-blocks-times",
        type=_non_negative(int),
        metavar="K",
        help="how many times each null block is missing (default: forever)",
    )
    f.add_argument(
        "--behind",
        type=_non_negative(int),
        default=0,
        metavar="K",
        help="report head and LIB K blocks lower and serve nothing above (a lagging node)",
    )
    f.add_argument(
        "--corrupt-previous",
        type=_block_list,
        default=frozenset(),
        metavar="N,M",
        help="serve these blocks with a wrong `previous` (a node off the chain)",
    )
    k = p.add_argument_group("forks (head mode)")
    k.add_argument(
        "--fork-at",
        type=_block_list,
        default=frozenset(),
        metavar="N,M",
        help="when the head moves past block N, replace blocks N-K+1..N by another branch "
        "(new ids, other content) and continue the chain from it",
    )
    k.add_argument(
        "--fork-depth",
        type=int,
        default=2,
        metavar="K",
        help="blocks replaced by each fork (default 2; at most the irreversible lag)",
    )
    t = p.add_argument_group("test chain (broadcast transactions)")
    t.add_argument(
        "--keep-producing",
        action="store_true",
        help="after the archive's last block, produce empty blocks (one per --pace), "
        "which hold the transactions the node includes",
    )
    t.add_argument(
        "--account",
        type=_account,
        action="append",
        default=[],
        metavar="NAME:KEY",
        help="an account that can sign, with its public key (STM...), besides the demo "
        "account replay-demo; repeatable",
    )
    t.add_argument(
        "--drop-accepted",
        type=_share,
        default=0.0,
        metavar="P",
        help="share of accepted transactions never included (sent again: accepted, dropped)",
    )
    t.add_argument(
        "--lose-answer",
        type=_share,
        default=0.0,
        metavar="P",
        help="share of accepted broadcasts whose answer is lost (the connection closes)",
    )
    t.add_argument(
        "--refuse-rc",
        type=_share,
        default=0.0,
        metavar="P",
        help="share of broadcasts refused for lack of resource credits",
    )
    return p


def generate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{PROG} generate",
        description="Write a synthetic, realistic, contiguous block archive (appbase shape).",
    )
    p.add_argument("--blocks", type=int, required=True, metavar="N", help="number of blocks")
    p.add_argument("--start", type=int, required=True, metavar="B", help="first block number")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--out", required=True, metavar="FILE", help="output (.jsonl or .jsonl.gz)")
    p.add_argument(
        "--posts-per-block",
        type=_non_negative(float),
        default=1.0,
        metavar="X",
        help="average new posts per block (default 1)",
    )
    p.add_argument(
        "--start-time",
        type=_timestamp,
        metavar="YYYY-MM-DDTHH:MM:SS",
        help="timestamp of the first block (default: genesis + 3 s per block)",
    )
    p.add_argument(
        "--templates",
        metavar="ARCHIVE",
        help="archive whose operations are the templates (default: the bundled sample)",
    )
    p.add_argument(
        "--no-virtual-ops",
        dest="virtual_ops",
        action="store_false",
        help="write no virtual operations (default: producer rewards, payouts, withdrawals)",
    )
    p.add_argument(
        "--payout-blocks",
        type=int,
        default=100,
        metavar="N",
        help="blocks between a post and its payout's virtual operations (default 100)",
    )
    p.add_argument(
        "--edits-per-block",
        type=_non_negative(float),
        default=0.0,
        metavar="X",
        help="average edits of earlier posts per block (default 0)",
    )
    p.add_argument(
        "--whole-body-edits",
        type=_share,
        default=0.0,
        metavar="P",
        help="share of edits that resend the whole body instead of a patch (default 0)",
    )
    p.add_argument(
        "--beneficiaries",
        type=_share,
        default=0.1,
        metavar="P",
        help="share of posts that name beneficiaries (default 0.1)",
    )
    return p


def posts_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{PROG} posts",
        description="Print the https://steemit.com/@author/permlink URL of every new post "
        '(comment with parent_author "") in an archive, in order; edits are skipped.',
    )
    p.add_argument("archive", nargs="?", metavar="ARCHIVE", help="default: the bundled sample")
    p.add_argument("--include-edits", action="store_true", help="repeat edited posts")
    return p
