"""Processes a test starts: their output line by line, and a stop that always happens.

    with ProcessSet(tmp_path) as spawn:
        bot = spawn([BIN / "bot"], env={"NATS_URL": url})
        bot.stdout.wait_for(r"https://steemit.com/@")
    # every process is stopped here (SIGTERM, then SIGKILL), whatever happened

Each process gets `clean_env` plus what the test gives; `TEST_ECHO=1` copies every
process's output to the test's stderr (run pytest with -s to see it).
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steem_testing.env import clean_env

STOP_TIMEOUT = 10.0


class LineCollector:
    """Reads a pipe in a thread and keeps every line (and the unix time it came), so a
    test can wait for one."""

    def __init__(self, stream, echo: str | None = None) -> None:
        self.lines: list[str] = []
        self.times: list[float] = []
        self._cond = threading.Condition()
        self._echo = echo
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, ""):
            line = raw.rstrip("\n")
            if self._echo is not None:
                print(f"[{self._echo}] {line}", file=sys.stderr)
            with self._cond:
                self.lines.append(line)
                self.times.append(time.time())
                self._cond.notify_all()
        stream.close()

    def wait_for(self, pattern: str, timeout: float = 15.0, start: int = 0) -> re.Match:
        """The first line from `start` on matching `pattern`; fail after `timeout`."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            index = start
            while True:
                while index < len(self.lines):
                    found = regex.search(self.lines[index])
                    if found:
                        return found
                    index += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = "\n".join(self.lines[-20:])
                    raise AssertionError(f"no line matching {pattern!r} in {timeout} s:\n{tail}")
                self._cond.wait(left)

    def text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)


@dataclass
class Proc:
    """A process started by a test, with its output collected line by line."""

    args: list[str]
    env: dict[str, str]
    cwd: Path
    name: str
    popen: subprocess.Popen | None = None
    stdout: LineCollector | None = None
    stderr: LineCollector | None = None
    new_session: bool = False
    history: list[str] = field(default_factory=list)

    def start(self) -> "Proc":
        self.popen = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=self.new_session,
        )
        echo = self.name if os.environ.get("TEST_ECHO") else None
        self.stdout = LineCollector(self.popen.stdout, echo)
        self.stderr = LineCollector(self.popen.stderr, echo)
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive:
            if self.new_session:
                os.killpg(self.popen.pid, signum)
            else:
                self.popen.send_signal(signum)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time. Returns the exit code."""
        if self.popen is None:
            return None
        if self.alive:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(5)
        return self.popen.returncode


Spawn = Callable[..., Proc]


class ProcessSet:
    """Starts processes in `cwd` and stops them all on exit, whatever happens."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.started: list[Proc] = []

    def spawn(
        self,
        args: list[Any],
        name: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        new_session: bool = False,
    ) -> Proc:
        proc = Proc(
            [str(a) for a in args],
            clean_env(env),
            Path(cwd or self.cwd),
            name or Path(str(args[0])).name,
            new_session=new_session,
        )
        self.started.append(proc)
        return proc.start()

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()

    def __enter__(self) -> Spawn:
        return self.spawn

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


# -- the process tree, read from /proc -------------------------------------------------


def _proc_table() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, argv) of every process we can see."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        table[int(entry.name)] = (ppid, [a.decode(errors="replace") for a in argv if a])
    return table


def descendants(root: int) -> dict[int, list[str]]:
    """Every process below `root`, with its argv."""
    table = _proc_table()
    found: dict[int, list[str]] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, argv) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = argv
                frontier.append(pid)
    return found


def console_script_pids(root: int, script: str, bin_dir: Path) -> list[int]:
    """Pids below `root` running our console script `script` itself (not its restart loop)."""
    return [
        pid
        for pid, argv in descendants(root).items()
        if len(argv) >= 2 and Path(argv[1]).name == script and Path(argv[1]).parent == bin_dir
    ]


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def child_pid(parent: int, program: str) -> int | None:
    """Pid of the direct child of `parent` running `program` (a console script or binary)."""
    for pid, argv in descendants(parent).items():
        names = [Path(a).name for a in argv[:2]]
        if program in names and parent_of(pid) == parent:
            return pid
    return None


def loop_pid(root: int, name: str) -> int | None:
    """Pid of `restart-loop --name <name>` below `root`."""
    for pid, argv in descendants(root).items():
        if (
            len(argv) >= 4
            and Path(argv[1]).name == "restart-loop"
            and argv[2:4] == ["--name", name]
        ):
            return pid
    return None


def worker_pid(root: int, name: str, program: str) -> int | None:
    """Pid of the program run by `restart-loop --name <name>` below `root` (not the loop)."""
    loop = loop_pid(root, name)
    return None if loop is None else child_pid(loop, program)


def still_running(processes: dict[int, list[str]]) -> dict[int, list[str]]:
    """Those of `processes` (pid -> argv, from `descendants`) that still run (zombies and
    reused pids aside)."""
    running = {}
    for pid, argv in processes.items():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            now = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] != "Z" and now == argv:
            running[pid] = argv
    return running


def sigkill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def rss_mb(pid: int, peak: bool = False) -> float | None:
    """Resident memory of a process in MB (its peak so far with `peak`); None if gone."""
    field_name = "VmHWM:" if peak else "VmRSS:"
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
