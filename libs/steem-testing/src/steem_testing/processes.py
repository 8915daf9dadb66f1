"""Processes a test starts: their output line by line, and a stop that always happens.

    with ProcessSet(tmp_path) as spawn:
        bot = spawn([BIN / "bot"], env={"NATS_URL": url})
        bot.stdout.wait_for(r"https://steemit.com/@")
        assert bot.stop() == 0
    # every process is stopped here (SIGTERM, then SIGKILL), whatever happened

    done = run_command([BIN / "steem-status", "--json"], {"NATS_URL": url}, cwd=tmp_path)

A process whose output nobody waits for (a benchmark's broadcaster) can write it to a
`log` file instead: `spawn(args, log=folder / "broadcaster.log")`; `proc.tail()` shows its
last lines either way. Each process gets `clean_env` plus what the test gives; `TEST_ECHO=1` copies every
process's output to the test's stderr (run pytest with -s to see it). The process tree
below a process (restart loops, honcho) is read from /proc by `steem_testing.proctree`.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from steem_testing.env import clean_env

STOP_TIMEOUT = 10.0


class Line(NamedTuple):
    index: int  # its place in the collector's lines
    at: float  # unix time it was read
    text: str


class LineCollector:
    """Reads a pipe in a thread and keeps every line, and when it came (`times`: unix
    time, `clock`: time.monotonic()), so a test can wait for one; `raw` keeps the bytes
    exactly as they came."""

    def __init__(self, stream, echo: str | None = None) -> None:
        self.lines: list[str] = []
        self.times: list[float] = []
        self.clock: list[float] = []
        self.raw = bytearray()
        self.closed = False  # the writer closed the pipe: no line will come any more
        self._cond = threading.Condition()
        self._echo = echo
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").removesuffix("\n")
            if self._echo is not None:
                print(f"[{self._echo}] {line}", file=sys.stderr)
            with self._cond:
                self.raw += raw
                self.lines.append(line)
                self.times.append(time.time())
                self.clock.append(time.monotonic())
                self._cond.notify_all()
        stream.close()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_for_line(self, pattern: str, timeout: float = 15.0, start: int = 0) -> Line:
        """The first line from `start` on matching `pattern`; fail after `timeout`, or
        at once when the pipe is closed without one."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            index = start
            while True:
                while index < len(self.lines):
                    if regex.search(self.lines[index]):
                        return Line(index, self.times[index], self.lines[index])
                    index += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    tail = "\n".join(self.lines[-20:])
                    why = "before the pipe closed" if self.closed else f"in {timeout} s"
                    raise AssertionError(f"no line matching {pattern!r} {why}:\n{tail}")
                self._cond.wait(left)

    def wait_for(self, pattern: str, timeout: float = 15.0, start: int = 0) -> re.Match:
        """The match of the first line from `start` on matching `pattern` (see
        wait_for_line)."""
        return re.search(pattern, self.wait_for_line(pattern, timeout, start).text)

    def wait_closed(self, timeout: float) -> bool:
        """Until the pipe is read to its end (False if it is still open after `timeout`)."""
        self._thread.join(timeout)
        return self.closed

    def text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)


@dataclass
class Proc:
    """A process started by a test, with its output collected line by line (or, given a
    `log` file, its stderr written there, and its stdout too with `log_stdout`). One
    started with `new_session` leads its own process group (as under honcho): `signal`
    and `stop` reach the whole group."""

    args: list[str]
    env: dict[str, str]
    cwd: Path
    name: str
    popen: subprocess.Popen | None = None
    stdout: LineCollector | None = None
    stderr: LineCollector | None = None
    new_session: bool = False
    log: Path | None = None
    log_stdout: bool = True

    def start(self) -> "Proc":
        with contextlib.ExitStack() as files:
            into = files.enter_context(self.log.open("wb")) if self.log else subprocess.PIPE
            self.popen = subprocess.Popen(
                self.args,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=into if self.log_stdout else subprocess.PIPE,
                stderr=into,
                start_new_session=self.new_session,
            )
        echo = self.name if os.environ.get("TEST_ECHO") else None
        if self.popen.stdout is not None:
            self.stdout = LineCollector(self.popen.stdout, echo)
        if self.popen.stderr is not None:
            self.stderr = LineCollector(self.popen.stderr, echo)
        return self

    def tail(self, lines: int = 12) -> str:
        """Its last lines of stderr (of its log file, if it writes one)."""
        if self.stderr is not None:
            return "\n".join(self.stderr.lines[-lines:])
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

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

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """Its exit code once it has exited and its output is read to the end (what its
        children still hold open aside); fail, with its last lines, after `timeout`."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} still running after {timeout} s:\n{self.tail()}"
            ) from None
        for pipe in (self.stdout, self.stderr):
            if pipe is not None:
                pipe.wait_closed(5)
        return code

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time. Returns the exit code.
        A process group of its own is then killed whole (what its leader left behind)."""
        if self.popen is None:
            return None
        if self.alive:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(5)
        if self.new_session:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
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
        log: Path | None = None,
        log_stdout: bool = True,
    ) -> Proc:
        proc = Proc(
            [str(a) for a in args],
            clean_env(env),
            Path(cwd or self.cwd),
            name or Path(str(args[0])).name,
            new_session=new_session,
            log=log,
            log_stdout=log_stdout,
        )
        self.started.append(proc)
        return proc.start()

    def stop_all(self) -> None:
        """Stop every process, the last started first; one that cannot be stopped does
        not keep the others running (its error is raised once all were tried)."""
        errors = []
        for proc in reversed(self.started):
            try:
                proc.stop()
            except Exception as err:
                errors.append(err)
        if errors:
            raise errors[0]

    def __enter__(self) -> Spawn:
        return self.spawn

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def run_command(
    args: list[Any], env: dict[str, str] | None = None, *, cwd: Path, timeout: float = 30
) -> subprocess.CompletedProcess:
    """A command run to its end with `clean_env(env)` in `cwd` (a folder without a .env),
    its output captured as text."""
    return subprocess.run(
        [str(a) for a in args],
        env=clean_env(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
