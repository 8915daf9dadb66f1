"""The pytest plugin: real processes on loopback ports, always stopped.

Installed with steem-testing (entry point `pytest11`), so every test of the workspace,
and of a member made with `new-worker`, has these fixtures:

    procs          procs(args, name=, env=, cwd=, new_session=) starts a process with a
                   clean environment; all are stopped when the test ends
    nats_server    a real nats-server with JetStream on a free port (`.url`, `.kill()`)
    replay_node    replay_node(archive=None, *options): the replay node on a free port
    pipeline       pipeline(archive=None, *node_options, env=None): nats-server, the replay
                   node and the broadcaster, running; `.worker("bot")` starts a worker
    read_stream    read_stream(url): every message of the stream STEEM
    last_block     last_block(url): the last block closed in the stream (None before)
    in_process_node  in_process_node(**options): a replay_node.node.ReplayNode started in
                   the test's own process (pace 0 unless given), for a test that moves
                   its head or forks it; all stopped when the test ends

and `report(request, title, figures)` prints a run's figures even when output is captured.
"""

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ipc_config.chain import block_num_of

from steem_testing.jetstream import StoredMessage, last_block_of, stream_messages
from steem_testing.paths import BIN
from steem_testing.processes import Proc, ProcessSet, Spawn
from steem_testing.servers import NatsServer, ReplayNode, start_replay_node
from steem_testing.waiting import wait_until


@pytest.fixture
def procs(tmp_path) -> Iterator[Spawn]:
    processes = ProcessSet(tmp_path)
    try:
        yield processes.spawn
    finally:
        processes.stop_all()


@pytest.fixture
def nats_server(procs, tmp_path) -> NatsServer:
    return NatsServer(procs, tmp_path / "jetstream").start()


@pytest.fixture
def replay_node(procs) -> Callable[..., ReplayNode]:
    def start(archive: Path | None = None, *options: str) -> ReplayNode:
        return start_replay_node(procs, archive, *options)

    return start


@pytest.fixture
def read_stream() -> Callable[[str], list[StoredMessage]]:
    return lambda url: asyncio.run(stream_messages(url))


@pytest.fixture
def last_block() -> Callable[[str], int | None]:
    return last_block_of


@pytest.fixture
def in_process_node() -> Iterator[Callable[..., Any]]:
    from replay_node.node import ReplayNode as InProcessNode  # the node's own API

    nodes: list[InProcessNode] = []

    def start(*args: Any, **options: Any) -> InProcessNode:
        options.setdefault("pace", 0)
        nodes.append(InProcessNode(*args, **options).start())
        return nodes[-1]

    try:
        yield start
    finally:
        for node in nodes:
            node.stop()


@dataclass
class Pipeline:
    """The chain reaching NATS: what a worker under test reads."""

    spawn: Spawn
    folder: Path
    nats: NatsServer
    node: ReplayNode
    broadcaster: Proc
    blocks: list[dict[str, Any]]  # the archive the node serves, in chain order

    def worker(self, script: str, env: dict[str, str] | None = None) -> Proc:
        """Start the console script `script` on this pipeline's NATS."""
        settings = {"NATS_URL": self.nats.url, "WORKER_STATE_DIR": str(self.folder / "state")}
        return self.spawn([BIN / script], name=script, env={**settings, **(env or {})})

    def wait_for_last_block(self, timeout: float = 60) -> None:
        """Until the broadcaster has published the archive's last block."""
        last = block_num_of(self.blocks[-1]["block_id"])
        wait_until(lambda: (last_block_of(self.nats.url) or 0) >= last, timeout, f"block {last}")


@pytest.fixture
def pipeline(procs, nats_server, tmp_path) -> Callable[..., Pipeline]:
    def start(
        archive: Path | None = None, *node_options: str, env: dict[str, str] | None = None
    ) -> Pipeline:
        from replay_node.archive import load_archive  # the node's own reading of its archive

        blocks = load_archive(archive, virtual_ops=True)
        node = start_replay_node(procs, archive, "--pace", "0", *node_options)
        settings = {
            "NATS_URL": nats_server.url,
            "STEEM_NODES": node.url,
            "START_BLOCK": str(block_num_of(blocks[0]["block_id"])),
            **(env or {}),
        }
        broadcaster = procs([BIN / "broadcaster"], env=settings)
        return Pipeline(procs, tmp_path, nats_server, node, broadcaster, blocks)

    return start


def report(request: pytest.FixtureRequest, title: str, figures: dict[str, Any]) -> None:
    """Say the figures of a run: on the terminal at once (even when pytest captures
    output), and again in the summary at the end, where they arrive also from pytest-xdist's
    workers, which have no terminal of their own."""
    line = f"[{title}] " + ", ".join(f"{k}={v}" for k, v in figures.items())
    request.node.user_properties.append((FIGURES, line))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is not None and not hasattr(request.config, "workerinput"):
        with capture.global_and_fixture_disabled():
            print("\n" + line, flush=True)


FIGURES = "steem_testing.figures"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = [
        value
        for reports in terminalreporter.stats.values()
        for report_ in reports
        for name, value in getattr(report_, "user_properties", ())
        if name == FIGURES and getattr(report_, "when", "call") == "call"
    ]
    if lines:
        terminalreporter.section("figures of the runs")
        for line in dict.fromkeys(lines):
            terminalreporter.line(line)
