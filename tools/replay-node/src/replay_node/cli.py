"""Command line: ``replay-node [ARCHIVE] [options]``, ``replay-node generate ...``,
``replay-node posts [ARCHIVE]`` (options in :mod:`replay_node.options`)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Sequence

from .archive import ArchiveError, iter_archive, new_posts
from .options import PROG, generate_parser, posts_parser, serve_parser


def _error(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr, flush=True)
    return 2


def serve(argv: Sequence[str]) -> int:
    from .faults import Faults
    from .node import ReplayNode
    from .store import BlockStore

    args = serve_parser().parse_args(argv)
    try:
        store = BlockStore.from_archive(args.archive)
    except ArchiveError as e:
        return _error(str(e))
    faults = Faults(
        fail_503=args.fail_503,
        fail_truncate=args.fail_truncate,
        fail_rpc_error=args.fail_rpc_error,
        fail_stall=args.fail_stall,
        stall_seconds=args.stall_seconds,
        null_blocks=args.null_blocks,
        null_blocks_times=args.null_blocks_times,
        behind=args.behind,
        corrupt_previous=args.corrupt_previous,
        drop_accepted=args.drop_accepted,
        lose_answer=args.lose_answer,
        refuse_rc=args.refuse_rc,
        seed=args.seed,
    )
    try:
        node = ReplayNode(
            store=store,
            host=args.host,
            port=args.port,
            pace=args.pace,
            start_blocks=args.start_blocks,
            irreversible_lag=args.irreversible_lag,
            latency=args.latency,
            faults=faults,
            forks=args.fork_at,
            fork_depth=args.fork_depth,
            accounts=dict(args.account),
            keep_producing=args.keep_producing,
        )
    except ValueError as e:
        return _error(str(e))

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        node.start()
    except OSError as e:
        return _error(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}")
    print(
        f"{PROG}: serving {len(store)} blocks {store.first}..{store.last} from {store.source} "
        f"on {node.url} (pace {node.pace:g} s, irreversible lag {node.irreversible_lag})",
        file=sys.stderr,
        flush=True,
    )
    if node.keep_producing:
        print(
            f"{PROG}: after block {store.last}, producing empty blocks that hold the "
            "transactions broadcast to it",
            file=sys.stderr,
            flush=True,
        )
    for fork in node.forks:
        print(
            f"{PROG}: fork planned at block {fork.at}: blocks {fork.at - fork.depth + 1}.."
            f"{fork.at} will be replaced once the head moves past {fork.at}",
            file=sys.stderr,
            flush=True,
        )
    try:
        while not stop.wait(0.1):
            pass
    finally:
        node.stop()
    print(
        f"{PROG}: stopped after {node.requests_served} requests ({node.calls_served} calls)",
        file=sys.stderr,
        flush=True,
    )
    return 0


def generate(argv: Sequence[str]) -> int:
    from .generate import generate_archive
    from .templates import Templates

    args = generate_parser().parse_args(argv)
    if args.blocks < 1 or args.start < 1 or args.payout_blocks < 1:
        return _error("--blocks, --start and --payout-blocks must be >= 1")
    t0 = time.perf_counter()
    try:
        templates = Templates.from_archive(args.templates)
    except (ArchiveError, ValueError) as e:
        return _error(f"templates: {e}")
    try:
        s = generate_archive(
            args.out,
            args.blocks,
            args.start,
            seed=args.seed,
            posts_per_block=args.posts_per_block,
            start_time=args.start_time,
            templates=templates,
            virtual_ops=args.virtual_ops,
            payout_blocks=args.payout_blocks,
            edits_per_block=args.edits_per_block,
            whole_body_edits=args.whole_body_edits,
            beneficiary_share=args.beneficiaries,
        )
    except OSError as e:
        return _error(f"cannot write {args.out}: {e.strerror or e}")
    print(
        f"{PROG}: wrote {s['blocks']} blocks {s['first']}..{s['last']} "
        f"({s['ops']} operations, {s['new_posts']} new posts, {s['edits']} edits, "
        f"{s['virtual_ops']} virtual operations) to {args.out} "
        f"in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    return 0


def posts(argv: Sequence[str]) -> int:
    args = posts_parser().parse_args(argv)
    try:
        urls = new_posts(iter_archive(args.archive), include_edits=args.include_edits)
    except ArchiveError as e:
        return _error(str(e))
    sys.stdout.write("".join(u + "\n" for u in urls))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "generate":
        return generate(argv[1:])
    if argv and argv[0] == "posts":
        return posts(argv[1:])
    return serve(argv)


if __name__ == "__main__":
    sys.exit(main())
