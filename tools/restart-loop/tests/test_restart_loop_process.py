"""End-to-end tests: the real restart loop around real child processes.

Every test waits for events (lines read from the pipes, files appearing)
with deadlines instead of fixed sleeps, and the ``loops`` fixture (the test
kit's ``procs``) stops the whole process group of every loop it started, even
when a test fails.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from steem_testing.paths import BIN
from steem_testing.processes import Proc, run_command
from steem_testing.proctree import is_running

# Runs restart_loop like the console script does, after making the test
# independent of how pytest itself was started: a shell starting pytest in
# the background (without job control) leaves SIGINT ignored, and the loop
# keeps signals that are ignored on entry ignored. "nopidfd" hides
# os.pidfd_open to exercise the SIGCHLD fallback.
BOOT = textwrap.dedent(
    """
    import os, runpy, signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    if sys.argv[1] == "nopidfd" and hasattr(os, "pidfd_open"):
        del os.pidfd_open
    sys.argv[:2] = ["restart-loop"]
    runpy.run_module("restart_loop", run_name="__main__", alter_sys=True)
    """
)

CHILD = textwrap.dedent(
    """
    import argparse, os, pathlib, signal, sys, time

    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--exit-code", type=int)
    p.add_argument("--durations", default="0", help="run i lasts durations[i] (last repeats)")
    p.add_argument("--fail-runs", type=int, help="only the first N runs exit")
    p.add_argument("--self-kill-runs", type=int, default=0)
    p.add_argument("--ignore-term", action="store_true")
    a = p.parse_args()
    d = pathlib.Path(a.dir)
    runs = d / "runs"
    run = len(runs.read_text().splitlines()) + 1 if runs.exists() else 1
    with runs.open("a") as f:
        f.write(f"{os.getpid()}\\n")

    def on_signal(signum, frame):
        name = signal.Signals(signum).name
        (d / f"{name}.{os.getpid()}").touch()
        print(f"child {os.getpid()} got {name}", flush=True)
        sys.exit(0)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    if a.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(f"child up pid={os.getpid()} run={run}", flush=True)
    if run <= a.self_kill_runs:
        os.kill(os.getpid(), signal.SIGKILL)
    if a.exit_code is not None and (a.fail_runs is None or run <= a.fail_runs):
        durations = [float(x) for x in a.durations.split(",")]
        time.sleep(durations[min(run, len(durations)) - 1])
        sys.exit(a.exit_code)
    while True:
        signal.pause()
    """
)

TIMEOUT = 5.0
StartLoop = Callable[..., Proc]


@pytest.fixture
def loops(procs) -> StartLoop:
    """start(*args, mode=, env=): a restart loop in its own process group (like under
    honcho), its output read line by line; the kit stops the whole group at the end."""

    def start(*args: str, mode: str = "auto", env: dict[str, str] | None = None) -> Proc:
        boot = [sys.executable, "-c", BOOT, mode, *args]
        return procs(boot, name="restart-loop", env=env, new_session=True)

    return start


@pytest.fixture
def child(tmp_path: Path) -> Callable[..., list[str]]:
    # Executable script with a shebang, so the loop's default name is "child.py".
    script = tmp_path / "child.py"
    script.write_text(f"#!{sys.executable}\n{CHILD}")
    script.chmod(0o755)

    def command(*args: str) -> list[str]:
        return [str(script), "--dir", str(tmp_path), *args]

    return command


def wait_for_file(path: Path, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.01)


def pid_gone(pid: int) -> bool:
    # Not ours to reap (it is the loop's child): a zombie counts as gone.
    return not is_running(pid)


PREFIX = r"^restart-loop\[child\.py\]: "


@pytest.mark.parametrize("mode", ["auto", "nopidfd"])
def test_restarts_after_exit_with_the_delay(loops: StartLoop, child, mode: str) -> None:
    loop = loops(
        "--delay", "0.2", "--max-delay", "0.2", "--",
        *child("--exit-code", "1", "--fail-runs", "2"),
        mode=mode,
    )  # fmt: skip
    loop.stdout.wait_for_line(r"run=1$")
    exited = loop.stderr.wait_for_line(
        PREFIX + r"child\.py exited with code 1 after \d+\.\d s \(restart 1, next in 0\.2 s\)$"
    )
    second = loop.stdout.wait_for_line(r"run=2$")
    assert second.at - exited.at >= 0.2 - 0.05
    loop.stderr.wait_for_line(r"\(restart 2, next in 0\.2 s\)$")
    loop.stdout.wait_for_line(r"run=3$")
    loop.stderr.wait_for_line(PREFIX + r"restarted child\.py \(pid \d+, restart 2\)$")
    loop.popen.send_signal(signal.SIGTERM)
    assert loop.wait(TIMEOUT) == 0


def test_backoff_doubles_caps_and_resets_after_a_healthy_run(loops: StartLoop, child) -> None:
    # Runs 1-3 crash at once, run 4 lasts 0.6 s (healthy), run 5 crashes at once.
    loop = loops(
        "--delay", "0.1", "--max-delay", "0.3", "--healthy-after", "0.5", "--",
        *child("--exit-code", "1", "--durations", "0,0,0,0.6,0", "--fail-runs", "5"),
    )  # fmt: skip
    loop.stdout.wait_for_line(r"run=6$")
    delays = re.findall(r"\(restart (\d+), next in ([\d.]+) s\)", loop.stderr.text())
    assert delays == [("1", "0.1"), ("2", "0.2"), ("3", "0.3"), ("4", "0.1"), ("5", "0.2")]
    loop.popen.send_signal(signal.SIGTERM)
    assert loop.wait(TIMEOUT) == 0


@pytest.mark.parametrize(
    ("options", "env", "code"),
    [
        ([], {}, 2),
        (["--no-restart-codes", "3,78"], {}, 78),
        ([], {"RESTART_NO_RESTART_CODES": "5"}, 5),
    ],
)
def test_no_restart_code_exits_with_that_code(
    loops: StartLoop, child, tmp_path: Path, options: list[str], env: dict[str, str], code: int
) -> None:
    loop = loops(*options, "--delay", "0.1", *child("--exit-code", str(code)), env=env)
    assert loop.wait(TIMEOUT) == code
    assert loop.stderr.text().splitlines()[-1] == (
        f"restart-loop[child.py]: child.py exited with code {code} (configuration error); "
        "not restarting"
    )
    assert len((tmp_path / "runs").read_text().splitlines()) == 1


def test_code_2_is_restarted_when_not_in_the_list(loops: StartLoop, child) -> None:
    loop = loops(
        "--no-restart-codes", "", "--delay", "0.1", *child("--exit-code", "2", "--fail-runs", "1")
    )
    loop.stdout.wait_for_line(r"run=2$")
    loop.popen.send_signal(signal.SIGTERM)
    assert loop.wait(TIMEOUT) == 0


@pytest.mark.parametrize(
    ("signum", "mode"),
    [
        (signal.SIGTERM, "auto"),
        (signal.SIGINT, "auto"),
        (signal.SIGHUP, "auto"),
        (signal.SIGTERM, "nopidfd"),
    ],
)
def test_stop_signal_is_forwarded(
    loops: StartLoop, child, tmp_path: Path, signum: int, mode: str
) -> None:
    loop = loops("--name", "bot", *child(), mode=mode)
    pid = int(loop.stdout.wait_for_line(r"run=1$").text.split("pid=")[1].split()[0])
    loop.popen.send_signal(signum)
    assert loop.wait(TIMEOUT) == 0
    name = signal.Signals(signum).name
    assert (tmp_path / f"{name}.{pid}").exists()
    assert (
        f"restart-loop[bot]: received {name}; forwarding to bot (pid {pid})" in loop.stderr.text()
    )
    assert (
        loop.stderr.text().splitlines()[-1] == "restart-loop[bot]: bot stopped (exited with code 0)"
    )


def test_honcho_style_killpg_stops_cleanly(loops: StartLoop, child, tmp_path: Path) -> None:
    # honcho signals the whole group: the child may get SIGTERM twice.
    loop = loops(*child())
    loop.stdout.wait_for_line(r"run=1$")
    os.killpg(loop.pid, signal.SIGTERM)
    assert loop.wait(TIMEOUT) == 0
    assert list(tmp_path.glob("SIGTERM.*"))
    assert "restarted" not in loop.stderr.text()


def test_child_ignoring_sigterm_is_killed_after_stop_timeout(loops: StartLoop, child) -> None:
    loop = loops("--stop-timeout", "0.5", *child("--ignore-term"))
    pid = int(loop.stdout.wait_for_line(r"run=1$").text.split("pid=")[1].split()[0])
    t0 = time.monotonic()
    loop.popen.send_signal(signal.SIGTERM)
    loop.stderr.wait_for_line(r"forwarding to child\.py")
    loop.popen.send_signal(signal.SIGTERM)  # a second signal while stopping changes nothing
    assert loop.wait(TIMEOUT) == 1
    elapsed = time.monotonic() - t0
    assert 0.45 <= elapsed < 2.0
    assert "received SIGTERM while stopping; still waiting" in loop.stderr.text()
    assert loop.stderr.text().splitlines()[-1] == (
        "restart-loop[child.py]: child.py did not stop within 0.5 s after SIGTERM; sent SIGKILL"
    )
    assert pid_gone(pid)


def test_signal_during_restart_delay_exits_at_once(loops: StartLoop, child) -> None:
    loop = loops("--delay", "30", *child("--exit-code", "1"))
    loop.stderr.wait_for_line(r"next in 30 s\)$")
    t0 = time.monotonic()
    loop.popen.send_signal(signal.SIGTERM)
    assert loop.wait(TIMEOUT) == 0
    assert time.monotonic() - t0 < 1.0
    assert loop.stderr.text().splitlines()[-1] == (
        "restart-loop[child.py]: received SIGTERM during restart delay; exiting"
    )


def test_stdout_passes_through_and_logs_go_to_stderr(loops: StartLoop, tmp_path: Path) -> None:
    payload = b"first line\n\tsecond: \xc3\xa9\xe2\x82\xac\n" + bytes(range(1, 10)) + b"no newline"
    script = tmp_path / "talker.py"
    script.write_text(
        "import sys\n"
        f"sys.stdout.buffer.write({payload!r})\n"
        "sys.stdout.flush()\n"
        "sys.stderr.write('child complaint\\n')\n"
        "sys.exit(2)\n"
    )
    loop = loops("--name", "talker", "--", sys.executable, str(script))
    assert loop.wait(TIMEOUT) == 2
    assert bytes(loop.stdout.raw) == payload
    err = loop.stderr.text().splitlines()
    assert err[0].startswith("restart-loop[talker]: started talker (pid ")
    assert "child complaint" in err
    assert all(
        line.startswith("restart-loop[talker]: ") for line in err if line != "child complaint"
    )


@pytest.mark.parametrize("kind", ["missing", "not-executable"])
def test_command_that_cannot_start_exits_127(loops: StartLoop, tmp_path: Path, kind: str) -> None:
    if kind == "missing":
        command = str(tmp_path / "no-such-program")
        reason = "command not found"
    else:
        command = str(tmp_path / "plain.txt")
        Path(command).write_text("not a program\n")
        reason = "permission denied"
    loop = loops("--delay", "0", command)
    assert loop.wait(TIMEOUT) == 127
    lines = loop.stderr.text().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"restart-loop[{Path(command).name}]: cannot start ")
    assert reason in lines[0]
    assert loop.stdout.raw == b""


def test_child_killed_by_sigkill_is_restarted(loops: StartLoop, child) -> None:
    loop = loops("--delay", "0.1", *child("--self-kill-runs", "1"))
    loop.stdout.wait_for_line(r"run=2$")
    loop.stderr.wait_for_line(
        PREFIX + r"child\.py killed by SIGKILL after \d+\.\d s \(restart 1, next in 0\.1 s\)$"
    )
    loop.popen.send_signal(signal.SIGTERM)
    assert loop.wait(TIMEOUT) == 0


def test_child_gets_sigterm_when_the_loop_is_sigkilled(
    loops: StartLoop, child, tmp_path: Path
) -> None:
    loop = loops(*child())
    pid = int(loop.stdout.wait_for_line(r"run=1$").text.split("pid=")[1].split()[0])
    loop.popen.send_signal(signal.SIGKILL)
    wait_for_file(tmp_path / f"SIGTERM.{pid}")


def test_console_script(child, tmp_path: Path) -> None:
    script = shutil.which("restart-loop", path=str(BIN))
    assert script is not None, "the restart-loop console script is not installed"
    proc = run_command([script, "--", *child("--exit-code", "2")], cwd=tmp_path, timeout=TIMEOUT)
    assert proc.returncode == 2
    assert proc.stdout.startswith("child up pid=")
    assert "(configuration error); not restarting" in proc.stderr


def test_the_child_learns_its_restart_count_and_the_loops_start(loops, tmp_path) -> None:
    script = tmp_path / "report.py"
    script.write_text(
        "import os, sys\n"
        "print('count', os.environ['RESTART_COUNT'], 'since', os.environ['RESTART_LOOP_SINCE'], flush=True)\n"
        "sys.exit(1)\n"
    )
    loop = loops("--delay", "0.1", "--", sys.executable, str(script))
    first = loop.stdout.wait_for_line(r"^count 0 since [\d.]+$").text.split()
    second = loop.stdout.wait_for_line(r"^count 1 since [\d.]+$").text.split()
    assert first[3] == second[3]  # the loop's start, not the child's
    loop.popen.send_signal(signal.SIGTERM)
    assert loop.wait(TIMEOUT) == 0
