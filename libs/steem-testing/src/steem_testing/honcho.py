"""The real Procfile under honcho, as a user runs it.

env = app_env(tmp_path, node.url, first_block, RESTART_DELAY="0.2")
honcho = start_honcho(spawn, tmp_path, ROOT / "Procfile", env)
wait_until(lambda: printed_urls(honcho), 60, "a post")
stop_honcho(honcho, ["nats", "broadcaster", "bot"])
"""

import re
import signal
from pathlib import Path

from steem_testing.paths import BIN
from steem_testing.processes import Proc, Spawn
from steem_testing.proctree import descendants
from steem_testing.servers import free_port

URL_LINE = re.compile(r"^\S+ bot\.1\s+\| (https://steemit\.com/\S+)$")


def app_env(folder: Path, node_url: str, start_block: int, **more: str) -> dict[str, str]:
    """The settings of the Procfile's processes for a run in `folder`: its NATS (nats-local)
    on a free loopback port with its files there, the chain from `node_url` at
    `start_block`; `more` adds or replaces settings."""
    return {
        "NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "NATS_STORE_DIR": str(folder / "jetstream"),
        "STEEM_NODES": node_url,
        "START_BLOCK": str(start_block),
        **more,
    }


def start_honcho(
    spawn: Spawn, folder: Path, procfile: Path, env: dict[str, str], *options: str
) -> Proc:
    """`honcho start` with `procfile` and an empty .env, in `folder`, in its own session;
    `options` are more of its command line (`"-c", "bot=3"`)."""
    env_file = folder / "empty.env"
    env_file.write_text("")
    args = [BIN / "honcho", "--no-colour", "-f", procfile, "-e", env_file, "-d", folder, "start"]
    return spawn([*args, *options], name="honcho", env=env, new_session=True)


def printed_urls(honcho: Proc) -> list[str]:
    """The post URLs the bot printed, in order."""
    return [m.group(1) for line in honcho.stdout.text().splitlines() if (m := URL_LINE.match(line))]


def stop_honcho(honcho: Proc, names: list[str]) -> None:
    """SIGTERM to honcho, as a PaaS or Ctrl-C would: everything stops cleanly and soon."""
    honcho.popen.send_signal(signal.SIGTERM)
    assert honcho.popen.wait(10) == 143  # honcho's own code for "stopped by SIGTERM"
    assert descendants(honcho.popen.pid) == {}
    for name in names:
        honcho.stdout.wait_for(rf"system\s+\| {name}\.1 stopped \(rc=0\)", timeout=1)
