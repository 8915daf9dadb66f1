"""Helpers of the fault-injection suite (tests/test_faults_*.py).

What the stream and the bot must hold is computed here from the archive the replay node
serves, independently of the broadcaster's code; processes are found and signalled
through /proc; figures of a run are printed on the terminal (even without -s) so that
docs/reliability.md can quote the last run.
"""

import json
import os
import signal
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from support import (  # noqa: F401 - re-exported for the fault tests
    BIN,
    OPERATION_SUFFIX,
    PATCH_PREFIX,
    SUBJECT_TOKEN,
    URL_LINE,
    NatsServer,
    Proc,
    count_ops,
    descendants,
    expected_messages,
    expected_posts,
    is_new_post,
    op_body,
    op_subject,
    printed_urls,
    start_honcho,
    stored,
    wait_until,
)


def all_replies(blocks: list[dict]) -> set[str]:
    """URLs of every comment that is a reply (none may be printed)."""
    return {
        f"https://steemit.com/@{op_body(op)['author']}/{op_body(op)['permlink']}"
        for block in blocks
        for trx in block["transactions"]
        for op in trx["operations"]
        if op_subject(op) == "steem.op.comment" and op_body(op).get("parent_author")
    }


def repeats(urls: list[str]) -> int:
    """How many lines repeat a URL printed before."""
    return sum(n - 1 for n in Counter(urls).values())


def first_difference(got: list, want: list) -> str:
    """Where two long sequences part, for an assertion message that helps."""
    for i, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return f"first difference at position {i}: got {a}, expected {b}"
    if len(got) != len(want):
        shorter = "got" if len(got) < len(want) else "expected"
        extra = (want if shorter == "got" else got)[min(len(got), len(want)) :][:3]
        return f"{len(got)} messages, {len(want)} expected; {shorter} lacks {extra}..."
    return "identical"


# -- processes ------------------------------------------------------------------------


def proc_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the root conftest's `procs` gives: no inherited app settings."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STEEM_", "NATS_", "START_", "STREAM_", "RESTART_"))
    }
    environ["PYTHONUNBUFFERED"] = "1"
    environ.update(extra or {})
    return environ


@contextmanager
def process_set(cwd: Path) -> Iterator[Callable[..., Proc]]:
    """Like the `procs` fixture, for module-scoped fixtures: every process is stopped at
    the end, whatever happens."""
    started: list[Proc] = []

    def spawn(args, name=None, env=None, new_session=False) -> Proc:
        proc = Proc(
            [str(a) for a in args],
            proc_env(env),
            cwd,
            name or Path(str(args[0])).name,
            new_session=new_session,
        )
        started.append(proc)
        return proc.start()

    try:
        yield spawn
    finally:
        for proc in reversed(started):
            proc.stop()


def restart_nats(spawn: Callable[..., Proc], old: NatsServer) -> NatsServer:
    """A new nats-server on the port and store of one that was stopped."""
    server = NatsServer(spawn, old.store_dir)
    server.port, server.url = old.port, old.url
    return server.start()


def start_replay_node(spawn: Callable[..., Proc], archive: Path | None, *options: str):
    """The replay node on a free port; returns (proc, url)."""
    args = [BIN / "replay-node"] + ([archive] if archive else []) + ["--port", "0", *options]
    proc = spawn(args, name="replay-node")
    found = proc.stderr.wait_for(r"on (http://127\.0\.0\.1:\d+)", timeout=30)
    return proc, found.group(1)


def node_status(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/status", timeout=5) as reply:
        return json.load(reply)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (from /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def child_pid(parent: int, program: str) -> int | None:
    """Pid of the direct child of `parent` running `program` (a console script or binary)."""
    for pid, argv in descendants(parent).items():
        names = [Path(a).name for a in argv[:2]]
        if program in names and _parent_of(pid) == parent:
            return pid
    return None


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def loop_pid(root: int, name: str) -> int | None:
    """Pid of `restart-loop --name <name>` below `root`."""
    for pid, argv in descendants(root).items():
        if (
            len(argv) >= 4
            and Path(argv[1]).name == "restart-loop"
            and argv[2:4] == ["--name", name]
        ):
            return pid
    return None


def worker_pid(root: int, name: str, program: str) -> int | None:
    """Pid of the program run by `restart-loop --name <name>` below `root` (not the loop)."""
    loop = loop_pid(root, name)
    return None if loop is None else child_pid(loop, program)


def still_running(processes: dict[int, list[str]]) -> dict[int, list[str]]:
    """Those of `processes` (pid -> argv, from `descendants`) that still run (zombies and
    reused pids aside)."""
    running = {}
    for pid, argv in processes.items():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            now = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] != "Z" and now == argv:
            running[pid] = argv
    return running


def sigkill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def settle(condition: Callable[[], object], timeout: float) -> bool:
    """Wait for `condition` like wait_until, but return False at the deadline, so that the
    test goes on to report precisely what is wrong."""
    try:
        wait_until(condition, timeout, "")
    except AssertionError:
        return False
    return True


# -- reporting ------------------------------------------------------------------------


def report(request: pytest.FixtureRequest, title: str, figures: dict[str, Any]) -> None:
    """Print the figures of a run on the terminal, even when pytest captures output."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    line = f"\n[{title}] " + ", ".join(f"{k}={v}" for k, v in figures.items())
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print(line, flush=True)
    else:
        print(line, flush=True)
