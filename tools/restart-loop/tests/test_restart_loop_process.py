"""End-to-end tests: the real restart loop around real child processes.

Every test waits for events (lines read from the pipes, files appearing)
with deadlines instead of fixed sleeps, and the ``loops`` fixture kills the
whole process group of every loop it started, even when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

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


@dataclass
class Line:
    at: float
    text: str


@dataclass
class Stream:
    name: str
    lines: list[Line] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)
    cond: threading.Condition = field(default_factory=threading.Condition)
    closed: bool = False


class Loop:
    """A running restart loop with its stdout/stderr read by threads."""

    def __init__(self, args: list[str], mode: str, env: dict[str, str] | None) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        for var in list(full_env):
            if var.startswith("RESTART_") and not (env and var in env):
                del full_env[var]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", BOOT, mode, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            start_new_session=True,  # own process group, like under honcho
        )
        self.pgid = self.proc.pid
        self.out = Stream("stdout")
        self.err = Stream("stderr")
        self._threads = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(pipe, stream: Stream) -> None:
        pending = b""
        while True:
            chunk = os.read(pipe.fileno(), 65536)
            with stream.cond:
                if not chunk:
                    if pending:
                        stream.lines.append(Line(time.monotonic(), pending.decode()))
                    stream.closed = True
                    stream.cond.notify_all()
                    return
                stream.raw += chunk
                pending += chunk
                *complete, pending = pending.split(b"\n")
                now = time.monotonic()
                stream.lines.extend(Line(now, c.decode()) for c in complete)
                stream.cond.notify_all()

    def expect(
        self, stream: Stream, pattern: str, timeout: float = TIMEOUT, start: int = 0
    ) -> Line:
        """Wait for a line (index >= start) matching ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with stream.cond:
            while True:
                for line in stream.lines[start:]:
                    if regex.search(line.text):
                        return line
                remaining = deadline - time.monotonic()
                if stream.closed or remaining <= 0:
                    text = "\n".join(line.text for line in stream.lines)
                    raise AssertionError(f"no {stream.name} line matching {pattern!r}:\n{text}")
                stream.cond.wait(remaining)

    def expect_out(self, pattern: str, timeout: float = TIMEOUT) -> Line:
        return self.expect(self.out, pattern, timeout)

    def expect_err(self, pattern: str, timeout: float = TIMEOUT) -> Line:
        return self.expect(self.err, pattern, timeout)

    def signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def wait(self, timeout: float = TIMEOUT) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"restart loop still running; stderr:\n{self.stderr}") from None
        for t in self._threads:
            t.join(TIMEOUT)
        return code

    @property
    def stderr(self) -> str:
        with self.err.cond:
            return "\n".join(line.text for line in self.err.lines)

    def kill_all(self) -> None:
        # The child shares the loop's process group, so this gets it too,
        # even if the loop itself is already gone.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)
        self.proc.wait()
        for t in self._threads:
            t.join(TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()


StartLoop = Callable[..., Loop]


@pytest.fixture
def loops() -> Iterator[StartLoop]:
    started: list[Loop] = []

    def start(*args: str, mode: str = "auto", env: dict[str, str] | None = None) -> Loop:
        loop = Loop(list(args), mode, env)
        started.append(loop)
        return loop

    try:
        yield start
    finally:
        for loop in started:
            loop.kill_all()


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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # Not ours to reap (it is the loop's child): a zombie counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


PREFIX = r"^restart-loop\[child\.py\]: "


@pytest.mark.parametrize("mode", ["auto", "nopidfd"])
def test_restarts_after_exit_with_the_delay(loops: StartLoop, child, mode: str) -> None:
    loop = loops(
        "--delay", "0.2", "--max-delay", "0.2", "--",
        *child("--exit-code", "1", "--fail-runs", "2"),
        mode=mode,
    )  # fmt: skip
    loop.expect_out(r"run=1$")
    exited = loop.expect_err(
        PREFIX + r"child\.py exited with code 1 after \d+\.\d s \(restart 1, next in 0\.2 s\)$"
    )
    second = loop.expect_out(r"run=2$")
    assert second.at - exited.at >= 0.2 - 0.05
    loop.expect_err(r"\(restart 2, next in 0\.2 s\)$")
    loop.expect_out(r"run=3$")
    loop.expect_err(PREFIX + r"restarted child\.py \(pid \d+, restart 2\)$")
    loop.signal(signal.SIGTERM)
    assert loop.wait() == 0


def test_backoff_doubles_caps_and_resets_after_a_healthy_run(loops: StartLoop, child) -> None:
    # Runs 1-3 crash at once, run 4 lasts 0.6 s (healthy), run 5 crashes at once.
    loop = loops(
        "--delay", "0.1", "--max-delay", "0.3", "--healthy-after", "0.5", "--",
        *child("--exit-code", "1", "--durations", "0,0,0,0.6,0", "--fail-runs", "5"),
    )  # fmt: skip
    loop.expect_out(r"run=6$")
    delays = re.findall(r"\(restart (\d+), next in ([\d.]+) s\)", loop.stderr)
    assert delays == [("1", "0.1"), ("2", "0.2"), ("3", "0.3"), ("4", "0.1"), ("5", "0.2")]
    loop.signal(signal.SIGTERM)
    assert loop.wait() == 0


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
    assert loop.wait() == code
    assert loop.stderr.splitlines()[-1] == (
        f"restart-loop[child.py]: child.py exited with code {code} (configuration error); "
        "not restarting"
    )
    assert len((tmp_path / "runs").read_text().splitlines()) == 1


def test_code_2_is_restarted_when_not_in_the_list(loops: StartLoop, child) -> None:
    loop = loops(
        "--no-restart-codes", "", "--delay", "0.1", *child("--exit-code", "2", "--fail-runs", "1")
    )
    loop.expect_out(r"run=2$")
    loop.signal(signal.SIGTERM)
    assert loop.wait() == 0


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
    pid = int(loop.expect_out(r"run=1$").text.split("pid=")[1].split()[0])
    loop.signal(signum)
    assert loop.wait() == 0
    name = signal.Signals(signum).name
    assert (tmp_path / f"{name}.{pid}").exists()
    assert f"restart-loop[bot]: received {name}; forwarding to bot (pid {pid})" in loop.stderr
    assert loop.stderr.splitlines()[-1] == "restart-loop[bot]: bot stopped (exited with code 0)"


def test_honcho_style_killpg_stops_cleanly(loops: StartLoop, child, tmp_path: Path) -> None:
    # honcho signals the whole group: the child may get SIGTERM twice.
    loop = loops(*child())
    loop.expect_out(r"run=1$")
    os.killpg(loop.pgid, signal.SIGTERM)
    assert loop.wait() == 0
    assert list(tmp_path.glob("SIGTERM.*"))
    assert "restarted" not in loop.stderr


def test_child_ignoring_sigterm_is_killed_after_stop_timeout(loops: StartLoop, child) -> None:
    loop = loops("--stop-timeout", "0.5", *child("--ignore-term"))
    pid = int(loop.expect_out(r"run=1$").text.split("pid=")[1].split()[0])
    t0 = time.monotonic()
    loop.signal(signal.SIGTERM)
    loop.expect_err(r"forwarding to child\.py")
    loop.signal(signal.SIGTERM)  # a second signal while stopping changes nothing
    assert loop.wait() == 1
    elapsed = time.monotonic() - t0
    assert 0.45 <= elapsed < 2.0
    assert "received SIGTERM while stopping; still waiting" in loop.stderr
    assert loop.stderr.splitlines()[-1] == (
        "restart-loop[child.py]: child.py did not stop within 0.5 s after SIGTERM; sent SIGKILL"
    )
    assert pid_gone(pid)


def test_signal_during_restart_delay_exits_at_once(loops: StartLoop, child) -> None:
    loop = loops("--delay", "30", *child("--exit-code", "1"))
    loop.expect_err(r"next in 30 s\)$")
    t0 = time.monotonic()
    loop.signal(signal.SIGTERM)
    assert loop.wait() == 0
    assert time.monotonic() - t0 < 1.0
    assert loop.stderr.splitlines()[-1] == (
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
    assert loop.wait() == 2
    assert bytes(loop.out.raw) == payload
    err = loop.stderr.splitlines()
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
    assert loop.wait() == 127
    lines = loop.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"restart-loop[{Path(command).name}]: cannot start ")
    assert reason in lines[0]
    assert loop.out.raw == b""


def test_child_killed_by_sigkill_is_restarted(loops: StartLoop, child) -> None:
    loop = loops("--delay", "0.1", *child("--self-kill-runs", "1"))
    loop.expect_out(r"run=2$")
    loop.expect_err(
        PREFIX + r"child\.py killed by SIGKILL after \d+\.\d s \(restart 1, next in 0\.1 s\)$"
    )
    loop.signal(signal.SIGTERM)
    assert loop.wait() == 0


def test_child_gets_sigterm_when_the_loop_is_sigkilled(
    loops: StartLoop, child, tmp_path: Path
) -> None:
    loop = loops(*child())
    pid = int(loop.expect_out(r"run=1$").text.split("pid=")[1].split()[0])
    loop.signal(signal.SIGKILL)
    wait_for_file(tmp_path / f"SIGTERM.{pid}")


def test_console_script(child) -> None:
    script = shutil.which("restart-loop", path=str(Path(sys.executable).parent))
    assert script is not None, "the restart-loop console script is not installed"
    proc = subprocess.run(
        [script, "--", *child("--exit-code", "2")],
        capture_output=True,
        timeout=TIMEOUT,
        text=True,
    )
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
    first = loop.expect_out(r"^count 0 since [\d.]+$").text.split()
    second = loop.expect_out(r"^count 1 since [\d.]+$").text.split()
    assert first[3] == second[3]  # the loop's start, not the child's
    loop.signal(signal.SIGTERM)
    assert loop.wait() == 0
