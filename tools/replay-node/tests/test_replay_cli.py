"""The replay-node command as a subprocess: start line, signals, load errors."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request

import pytest
from replay_node.archive import load_archive

START = re.compile(
    r"^replay-node: serving (\d+) blocks (\d+)\.\.(\d+) from (.+) on (http://127\.0\.0\.1:(\d+)) "
    r"\(pace ([\d.]+) s, irreversible lag (\d+)\)$"
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_on_a_free_port_and_exits_0_on_signal(replay_cli, sig):
    proc = replay_cli("--port", "0", "--pace", "0")
    line = proc.stderr.wait_for(START.pattern).group(0)
    n, first, last, source, url, port, pace, lag = START.match(line).groups()
    assert (n, first, last, pace, lag) == ("400", "3286700", "3287099", "0", "0")
    assert source.endswith("sample.jsonl.gz") and int(port) > 0
    with urllib.request.urlopen(url + "/status", timeout=5) as resp:
        status = json.load(resp)
    assert status["head"] == status["irreversible"] == 3287099
    t0 = time.monotonic()
    proc.popen.send_signal(sig)
    assert proc.wait(5) == 0
    assert time.monotonic() - t0 < 1.0


def test_default_pace_and_lag_in_the_start_line(replay_cli):
    proc = replay_cli("--port", "0", "--start-blocks", "10")
    m = START.match(proc.stderr.wait_for(START.pattern).group(0))
    assert m.group(7, 8) == ("3", "15")
    with urllib.request.urlopen(m.group(5) + "/status", timeout=5) as resp:
        assert json.load(resp)["head"] == 3286709


def _bad_archive(tmp_path, kind: str):
    blocks = load_archive()[:4]
    if kind == "gap":
        blocks = blocks[:1] + blocks[2:]
    elif kind == "link":
        blocks[2] = dict(blocks[2], previous=blocks[2]["previous"][:8] + "0" * 32)
    path = tmp_path / f"{kind}.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in blocks))
    if kind == "json":
        path.write_text(path.read_text() + "{oops\n")
    return path


@pytest.mark.parametrize(
    "kind, where, problem",
    [
        ("gap", ":2:", "not contiguous"),
        ("link", ":3:", "does not match block_id"),
        ("json", ":5:", "invalid JSON"),
        ("missing", "", "cannot open"),
    ],
)
def test_refuses_a_broken_archive_with_one_line_and_exit_2(
    replay_cli, tmp_path, kind, where, problem
):
    path = tmp_path / "missing.jsonl" if kind == "missing" else _bad_archive(tmp_path, kind)
    proc = replay_cli(path, "--port", "0")
    assert proc.wait(20) == 2
    lines = proc.stderr.lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"replay-node: error: {path}{where}")
    assert problem in lines[0]
