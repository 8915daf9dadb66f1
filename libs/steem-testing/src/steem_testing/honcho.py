"""The real Procfile under honcho, as a user runs it.

honcho = start_honcho(spawn, tmp_path, ROOT / "Procfile", {"NATS_URL": ...})
wait_until(lambda: printed_urls(honcho), 60, "a post")
stop_honcho(honcho, ["nats", "broadcaster", "bot"])
"""

import re
import signal
from pathlib import Path

from steem_testing.paths import BIN
from steem_testing.processes import Proc, Spawn, descendants

URL_LINE = re.compile(r"^\S+ bot\.1\s+\| (https://steemit\.com/\S+)$")


def start_honcho(spawn: Spawn, folder: Path, procfile: Path, env: dict[str, str]) -> Proc:
    """`honcho start` with `procfile` and an empty .env, in `folder`, in its own session."""
    env_file = folder / "empty.env"
    env_file.write_text("")
    args = [BIN / "honcho", "--no-colour", "-f", procfile, "-e", env_file, "-d", folder, "start"]
    return spawn(args, name="honcho", env=env, new_session=True)


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
