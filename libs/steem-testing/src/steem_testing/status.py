"""The operator's commands, run once as an operator would: steem-status and steem-dead.

    table = steem_status(nats.url, cwd=tmp_path)          # .returncode, .stdout, .stderr
    status = status_json(nats.url, tmp_path)              # the parsed `--json` answer
    letters = steem_dead(nats.url, "list", "bot", "--json", cwd=tmp_path)

Each runs with an empty environment but NATS_URL, in `cwd` (a folder without a .env).
"""

import json
import subprocess
from pathlib import Path

from steem_testing.paths import BIN
from steem_testing.processes import run_command


def steem_status(nats_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`steem-status` run once against `nats_url`."""
    return run_command([BIN / "steem-status", *args], {"NATS_URL": nats_url}, cwd=cwd, timeout=20)


def status_json(nats_url: str, cwd: Path) -> dict:
    """What `steem-status --json` says, once it said it with exit code 0."""
    result = steem_status(nats_url, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def steem_dead(nats_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`steem-dead` run once against `nats_url`."""
    return run_command([BIN / "steem-dead", *args], {"NATS_URL": nats_url}, cwd=cwd, timeout=20)
