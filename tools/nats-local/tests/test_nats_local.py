"""nats-local with the real nats-server from the wheel, on a free loopback port.

Every process is started through the `procs` fixture, which stops it after the test even
when the test fails; a nats-server left behind by a killed nats-local gets SIGTERM from
Linux (PR_SET_PDEATHSIG), which one test checks.
"""

import os
import re
import signal
import socket
import sys
from pathlib import Path

import pytest
from steem_testing.paths import BIN
from steem_testing.proctree import descendants, is_running
from steem_testing.servers import free_port
from steem_testing.waiting import wait_until

START_LINE = re.compile(
    r"^nats: nats-server \d+\.\d+\.\d+ ready on nats://127\.0\.0\.1:(\d+), "
    r"JetStream files in (.+)$"
)
MADE_LINE = re.compile(r"^nats: made \.data/nats-local/(\d+)\.nk \(mode 0600\), the nkey ")
# Started by a shell in the background, pytest's children would find SIGINT ignored, and
# nats-local (like the restart loop) keeps an ignored signal ignored: start them with the
# stop signals at their defaults, as honcho does.
DEFAULT_SIGNALS = [
    sys.executable,
    "-c",
    "import os, signal, sys\n"
    "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP): signal.signal(s, signal.SIG_DFL)\n"
    "os.execv(sys.argv[1], sys.argv[1:])",
]


def nats_local(procs, tmp_path: Path, port: int, **env: str):
    settings = {"NATS_URL": f"nats://127.0.0.1:{port}", "NATS_STORE_DIR": str(tmp_path / "js")}
    return procs([*DEFAULT_SIGNALS, BIN / "nats-local"], name="nats-local", env={**settings, **env})


def answers_nats(port: int) -> bool:
    """The server speaks NATS on `port`: its first words to a client are `INFO {...}`."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        return sock.recv(5) == b"INFO "


def server_pid(launcher_pid: int) -> int:
    (pid,) = [
        pid
        for pid, argv in descendants(launcher_pid).items()
        if argv and Path(argv[0]).name == "nats-server"
    ]
    return pid


def own_lines(proc) -> list[str]:
    """What nats-local printed, but the line of a first start that says it made its nkey."""
    return [line for line in proc.stderr.lines if not MADE_LINE.match(line)]


def test_one_line_at_start_and_nothing_else_until_it_stops(procs, tmp_path):
    port = free_port()
    for start in ("first", "later"):
        proc = nats_local(procs, tmp_path, port)
        found = START_LINE.match(proc.stderr.wait_for(START_LINE.pattern).string)
        assert found[1] == str(port) and found[2] == str(tmp_path / "js")
        assert answers_nats(port)
        assert (tmp_path / "js" / "jetstream").is_dir()

        proc.popen.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert own_lines(proc) == [found.string]  # the banner and shutdown lines are hidden
        made = [MADE_LINE.match(line)[1] for line in proc.stderr.lines if MADE_LINE.match(line)]
        assert made == ([str(port)] if start == "first" else []), "its nkey is made once"
        assert proc.stdout.lines == []


def test_a_port_already_taken_is_shown_and_the_server_exit_code_comes_back(procs, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = nats_local(procs, tmp_path, taken.getsockname()[1])
        assert proc.popen.wait(15) == 1
    proc.stderr.wait_for(r"\[FTL\] .*address already in use", timeout=5)
    assert not any(START_LINE.match(line) for line in proc.stderr.lines)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])
def test_sigint_and_sighup_stop_the_server_cleanly(procs, tmp_path, signum):
    # nats-server alone takes SIGHUP as "reload the configuration" and keeps running.
    proc = nats_local(procs, tmp_path, free_port())
    proc.stderr.wait_for(START_LINE.pattern)
    server = server_pid(proc.popen.pid)
    proc.popen.send_signal(signum)
    assert proc.wait(10) == 0
    assert not is_running(server)
    assert len(own_lines(proc)) == 1, proc.stderr.text()


def test_the_server_killed_kills_nats_local_with_the_same_signal(procs, tmp_path):
    proc = nats_local(procs, tmp_path, free_port())
    proc.stderr.wait_for(START_LINE.pattern)
    os.kill(server_pid(proc.popen.pid), signal.SIGKILL)
    assert proc.popen.wait(10) == -signal.SIGKILL  # what the restart loop reports


def test_nats_local_killed_the_server_stops_too(procs, tmp_path):
    port = free_port()
    proc = nats_local(procs, tmp_path, port)
    proc.stderr.wait_for(START_LINE.pattern)
    server = server_pid(proc.popen.pid)
    proc.popen.kill()
    proc.popen.wait(5)
    wait_until(lambda: not is_running(server), 10, "the orphaned server to stop")


def test_debug_shows_the_server_banner(procs, tmp_path):
    proc = nats_local(procs, tmp_path, free_port(), LOG_LEVEL="DEBUG")
    proc.stderr.wait_for(START_LINE.pattern)
    text = proc.stderr.text()
    for expected in (
        "nats: starting ",
        "[INF] Starting nats-server",
        "JETSTREAM",
        "Server is ready",
    ):
        assert expected in text
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(10) == 0
    proc.stderr.wait_for(r"\[INF\] Server Exiting", timeout=5)


def test_a_malformed_setting_is_one_line_and_exit_2(procs, tmp_path):
    proc = nats_local(procs, tmp_path, free_port(), LOG_LEVEL="LOUD")
    assert proc.wait(15) == 2
    proc.stderr.wait_for(r"^nats: configuration error: LOG_LEVEL='LOUD' is not one of", 5)
    assert len(proc.stderr.lines) == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_under_the_restart_loop_every_stop_signal_stops_it_in_time(procs, tmp_path, signum):
    loop = procs(
        [*DEFAULT_SIGNALS, BIN / "restart-loop", "--name", "nats", "--", BIN / "nats-local"],
        name="restart-loop",
        env={
            "NATS_URL": f"nats://127.0.0.1:{free_port()}",
            "NATS_STORE_DIR": str(tmp_path / "js"),
            "RESTART_STOP_TIMEOUT": "4",
        },
    )
    loop.stderr.wait_for(START_LINE.pattern)
    loop.popen.send_signal(signum)
    assert loop.popen.wait(10) == 0
    loop.stderr.wait_for(r"restart-loop\[nats\]: nats stopped \(exited with code 0\)", 1)
    assert "SIGKILL" not in loop.stderr.text()
