"""`steem-status` against real running processes, compared with what is in NATS."""

import asyncio
import json
import os
import pty
import select
import signal
import socket
import subprocess
import time
from datetime import datetime

from replay_node.archive import load_archive
from replay_node.generate import generate_archive
from steem_testing.env import clean_env
from steem_testing.jetstream import with_js
from steem_testing.paths import BIN
from steem_testing.servers import free_port
from steem_testing.status import status_json, steem_status
from steem_testing.waiting import wait_showing, wait_until

NO_BROADCASTER = "no broadcaster report: is the broadcaster running?"
CLEAR_SCREEN = "\x1b[H\x1b[2J"


async def published(url: str) -> dict:
    """What the stream and its consumers hold, read directly."""

    async def read(js) -> dict:
        state = (await js.stream_info("STEEM")).state
        first = await js.get_msg("STEEM", seq=state.first_seq, subject="steem.block", next=True)
        last = await js.get_last_msg("STEEM", "steem.block")
        consumers = {
            info.name: (info.num_pending, info.num_ack_pending, info.num_redelivered)
            for info in await js.consumers_info("STEEM")
        }
        return {
            "messages": state.messages,
            "bytes": state.bytes,
            "first_seq": state.first_seq,
            "last_seq": state.last_seq,
            "first_block": json.loads(first.data)["block_num"],
            "last_block": json.loads(last.data),
            "consumers": consumers,
        }

    return await with_js(url, read, allow_reconnect=False)


async def put_report(url: str, key: str, report: dict) -> None:
    async def put(js) -> None:
        bucket = await js.key_value("steem_status")
        await bucket.put(key, json.dumps(report).encode())

    await with_js(url, put, allow_reconnect=False)


def by_process(status: dict) -> dict[str, dict]:
    return {p["process"]: p for p in status["processes"]}


def test_the_figures_are_those_published(tmp_path, nats_server, replay_node, procs, last_block):
    archive = tmp_path / "chain.jsonl"
    summary = generate_archive(archive, count=150, start=20_000, seed=11)
    blocks = load_archive(archive, virtual_ops=True)
    node = replay_node(archive, "--pace", "0")
    env = {"NATS_URL": nats_server.url}
    broadcaster = procs(
        [BIN / "broadcaster"], env={**env, "STEEM_NODES": node.url, "START_BLOCK": "20000"}
    )
    bot = procs([BIN / "bot"], env=env)
    last = summary["last"]
    wait_showing(lambda: last_block(nats_server.url) == last, 30, "the last block", broadcaster)
    wait_showing(
        lambda: asyncio.run(published(nats_server.url))["consumers"].get("bot") == (0, 0, 0),
        15,
        "the bot to handle every post",
        bot,
    )
    # The broadcaster reports its position every STATUS_INTERVAL (5 s).
    status = wait_showing(
        lambda: (
            (s := status_json(nats_server.url, tmp_path))["broadcaster"]
            and s["broadcaster"]["block_num"] == last
            and s
        ),
        15,
        "the broadcaster's report of the last block",
        broadcaster,
    )
    truth = asyncio.run(published(nats_server.url))

    assert status["schema"] == 1
    assert status["nats_url"] == nats_server.url
    stream = status["stream"]
    assert stream["name"] == "STEEM"
    for figure in ("messages", "bytes", "first_seq", "last_seq", "first_block"):
        assert stream[figure] == truth[figure], figure
    # Every operation and virtual operation, and one steem.block each block.
    assert stream["messages"] == summary["ops"] + summary["virtual_ops"] + summary["blocks"]
    assert stream["first_block"] == summary["first"]
    assert stream["last_block"] == truth["last_block"]["block_num"] == summary["last"]
    assert stream["last_block_time"] == blocks[-1]["timestamp"]
    chain_age = time.time() - datetime.fromisoformat(blocks[-1]["timestamp"] + "+00:00").timestamp()
    assert abs(stream["last_block_age"] - chain_age) < 30

    assert status["broadcaster"] == {
        **status["broadcaster"],
        "mode": "irreversible",
        "block_num": summary["last"],
        "head": summary["last"],
        "irreversible": summary["last"],
        "behind": 0,
        "stale": False,
    }
    assert 0 <= status["broadcaster"]["report_age"] < 15

    assert [c["name"] for c in status["consumers"]] == list(truth["consumers"]) == ["bot"]
    (consumer,) = status["consumers"]
    assert (consumer["pending"], consumer["ack_pending"], consumer["redelivered"]) == (0, 0, 0)
    assert consumer["filter_subjects"] == ["steem.op.comment"]

    processes = by_process(status)
    assert set(processes) == {"bot", "broadcaster"}
    for name, proc in (("bot", bot), ("broadcaster", broadcaster)):
        report = processes[name]
        assert report["pid"] == proc.popen.pid
        assert report["instance"] == f"{name}@{socket.gethostname()}-{proc.popen.pid}"
        assert (report["state"], report["host"], report["restarts"]) == (
            "running", socket.gethostname(), 0
        )  # fmt: skip
        assert report["stale"] is False and 0 <= report["report_age"] < 15
        assert 0 < report["uptime"] < 60

    table = steem_status(nats_server.url, cwd=tmp_path)
    assert table.returncode == 0 and table.stderr == ""
    text = table.stdout
    assert f"messages    {truth['messages']:,} (" in text
    assert f"blocks      {summary['first']}..{summary['last']}" in text
    assert f"last block  {summary['last']} of {blocks[-1]['timestamp']} UTC" in text
    assert f"block       {summary['last']} (irreversible mode)" in text
    assert f"head {summary['last']}, irreversible {summary['last']}, 0 blocks behind" in text
    assert NO_BROADCASTER not in text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if "  running  " in line}
    for proc, name in ((bot, "bot"), (broadcaster, "broadcaster")):
        instance = f"{name}@{socket.gethostname()}-{proc.popen.pid}"
        assert rows[instance][1:3] == ["running", str(proc.popen.pid)]


def test_without_a_broadcaster_it_says_so_and_exits_0(tmp_path, nats_server, procs):
    nothing = steem_status(nats_server.url, cwd=tmp_path)
    assert nothing.returncode == 0, nothing.stderr
    assert "no stream STEEM: nothing published yet" in nothing.stdout
    assert NO_BROADCASTER in nothing.stdout
    assert "no status reports: no process has reported yet" in nothing.stdout
    empty = status_json(nats_server.url, tmp_path)
    parts = ("stream", "broadcaster", "consumers", "processes", "status_bucket")
    assert [empty[part] for part in parts] == [None, None, [], [], False]

    bot = procs([BIN / "bot"], env={"NATS_URL": nats_server.url})
    wait_until(
        lambda: "bot" in by_process(status_json(nats_server.url, tmp_path)), 15, "the bot's report"
    )
    # A process that stopped reporting 10 min ago without saying it stopped (SIGKILL).
    ghost = {"process": "ghost", "instance": "ghost.1", "state": "running", "pid": 1,
             "host": "elsewhere", "restarts": 2, "started_at": time.time() - 3600,
             "uptime": 3000.0, "updated_at": time.time() - 600}  # fmt: skip
    asyncio.run(put_report(nats_server.url, "process.ghost.1", ghost))

    status = status_json(nats_server.url, tmp_path)
    assert status["broadcaster"] is None
    assert status["stream"]["messages"] == 0 and status["stream"]["last_block"] is None
    assert [c["name"] for c in status["consumers"]] == ["bot"]
    processes = by_process(status)
    assert processes["bot"]["pid"] == bot.popen.pid and processes["bot"]["stale"] is False
    assert processes["ghost"]["stale"] is True
    assert processes["ghost"]["uptime"] == 3000.0  # as of its last report
    assert 599 < processes["ghost"]["report_age"] < 630

    table = steem_status(nats_server.url, cwd=tmp_path)
    assert table.returncode == 0
    assert NO_BROADCASTER in table.stdout
    assert "blocks      none closed yet" in table.stdout
    ghost_row = next(line for line in table.stdout.splitlines() if "ghost.1" in line)
    assert ghost_row.split()[-6:] == ["50", "min", "10", "min", "ago", "STALE"]
    bot_row = next(line for line in table.stdout.splitlines() if line.startswith("  bot@"))
    assert bot_row.split()[1:3] == ["running", str(bot.popen.pid)] and "STALE" not in bot_row


def test_unreachable_nats_is_one_line_and_exit_1(tmp_path):
    port = free_port()
    started = time.monotonic()
    result = steem_status(f"nats://watcher:s3cret@127.0.0.1:{port}", cwd=tmp_path)
    assert time.monotonic() - started < 5
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"steem-status: cannot reach NATS at nats://watcher:***@127.0.0.1:{port}: connection refused"
    ]


def test_watch_refreshes_until_ctrl_c(tmp_path, nats_server, procs):
    env = {"NATS_URL": nats_server.url}
    watching = procs([BIN / "steem-status", "--watch", "0.1"], env=env)
    wait_until(
        lambda: watching.stdout.text().count("steem-status: NATS at") >= 3, 15, "three screens"
    )
    assert CLEAR_SCREEN not in watching.stdout.text()  # not a terminal: blank lines instead
    watching.signal(signal.SIGINT)
    assert watching.popen.wait(5) == 0

    lines = procs([BIN / "steem-status", "--watch", "0.1", "--json"], env=env)
    wait_until(lambda: len(lines.stdout.lines) >= 2, 15, "two JSON lines")
    lines.signal(signal.SIGTERM)
    assert lines.popen.wait(5) == 0
    assert all(json.loads(line)["schema"] == 1 for line in lines.stdout.lines)

    # NATS going away does not stop a watch: it says so and retries.
    nats_server.stop()
    watching = procs([BIN / "steem-status", "--watch", "0.1"], env=env)
    watching.stderr.wait_for(r"cannot reach NATS at .*: connection refused; retrying every 0.1 s")
    watching.signal(signal.SIGINT)
    assert watching.popen.wait(5) == 0


def test_watch_clears_the_screen_of_a_terminal(tmp_path, nats_server):
    controller, terminal = pty.openpty()
    watching = subprocess.Popen(
        [BIN / "steem-status", "--watch", "0.1"],
        env=clean_env({"NATS_URL": nats_server.url}),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    try:
        seen = b""
        deadline = time.monotonic() + 15
        while seen.count(CLEAR_SCREEN.encode()) < 2 and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.5)[0]:
                seen += os.read(controller, 65536)
        assert seen.count(CLEAR_SCREEN.encode()) >= 2
        watching.send_signal(signal.SIGINT)
        assert watching.wait(5) == 0
    finally:
        if watching.poll() is None:
            watching.kill()
            watching.wait(5)
        os.close(controller)
