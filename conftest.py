"""Fixtures shared by every test in the workspace: real processes on loopback ports.

Each fixture starts the real thing (nats-server from the wheel, the replay node, our
console scripts) and stops it afterwards, even when the test fails. Helpers live in
tests/support.py (on the path through the pytest settings in pyproject.toml).
"""

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import (
    BIN,
    NatsServer,
    Proc,
    ReplayNode,
    StoredMessage,
    last_closed_block,
    stream_messages,
)


@pytest.fixture
def procs(tmp_path) -> Iterator[Callable[..., Proc]]:
    """Factory of processes that are all stopped when the test ends, whatever happens."""
    started: list[Proc] = []

    def spawn(args, name=None, env=None, cwd=None, new_session=False) -> Proc:
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("STEEM_", "NATS_", "START_", "STREAM_"))
        }
        environ["PYTHONUNBUFFERED"] = "1"
        environ.update(env or {})
        proc = Proc(
            [str(a) for a in args],
            environ,
            Path(cwd or tmp_path),
            name or str(args[0]),
            new_session=new_session,
        )
        started.append(proc)
        return proc.start()

    yield spawn
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
def nats_server(procs, tmp_path) -> NatsServer:
    return NatsServer(procs, tmp_path / "jetstream").start()


@pytest.fixture
def replay_node(procs) -> Callable[..., ReplayNode]:
    """Start the replay node on a free port: replay_node(archive, "--pace", "0", ...)."""

    def start(archive: Path | None = None, *options: str) -> ReplayNode:
        args = [BIN / "replay-node"] + ([archive] if archive else []) + ["--port", "0", *options]
        proc = procs(args, name="replay-node")
        found = proc.stderr.wait_for(r"on (http://127\.0\.0\.1:\d+)", timeout=30)
        return ReplayNode(proc, found.group(1))

    return start


@pytest.fixture
def read_stream() -> Callable[[str], list[StoredMessage]]:
    """Every message of the STEEM stream, in order."""
    return lambda url: asyncio.run(stream_messages(url))


@pytest.fixture
def last_block() -> Callable[[str], int | None]:
    """Number of the last block closed by a `steem.block` message (None before the first)."""

    def read(url: str) -> int | None:
        try:
            return asyncio.run(last_closed_block(url))
        except Exception:  # stream not created yet, server restarting
            return None

    return read
