"""Run one child process, restart it when it dies, stop it on a signal.

Exit codes of :meth:`Supervisor.run`:

* 0   stopped by SIGTERM/SIGINT/SIGHUP; the child stopped in time (whatever
      its own exit code) or was not running
* 1   the child did not stop within ``stop_timeout`` and was SIGKILLed
* N   the child exited on its own with N, one of the no-restart codes
* 127 the command could not be started (not found, not executable, ...)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .policy import RestartPolicy
from .waiter import SignalWaiter

EXIT_STOPPED = 0
EXIT_KILLED = 1
EXIT_CANNOT_START = 127

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclass(frozen=True)
class Status:
    """Snapshot handed to the ``on_status`` hook (e.g. a future status file)."""

    name: str
    state: str
    """"running", "waiting" (restart delay), "stopping" or "exited"."""
    pid: int | None
    restart_count: int
    last_start: float | None
    """Wall-clock time (``time.time()``) of the latest start."""
    last_exit: int | None
    """Latest exit code (negative: killed by that signal)."""
    next_delay: float | None = None
    """Seconds until the next restart, in the "waiting" state."""


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal_name(-returncode)}"
    return f"exited with code {returncode}"


def fmt_seconds(seconds: float) -> str:
    return f"{round(seconds, 2):g}"


def pdeathsig_preexec() -> Callable[[], None] | None:
    """Return a ``preexec_fn`` asking Linux to SIGTERM the child if we die.

    Normally the child never outlives the restart loop: we forward stop
    signals and wait for it. But if the restart loop itself is SIGKILLed
    (OOM killer, ``kill -9``, honcho's kill after its 5 s wait), nothing
    would stop the child, and it would run on forever re-parented to init,
    holding ports and consuming messages next to its replacement.
    ``prctl(PR_SET_PDEATHSIG, SIGTERM)`` makes the kernel send it SIGTERM
    when its parent dies. The setting survives ``exec`` (except for
    set-uid binaries) and is tied to the parent *thread*; the restart loop
    is single-threaded, so that is the process.

    libc is loaded here, in the parent, so the child only makes a plain
    function call between ``fork`` and ``exec``. Returns None where
    ``prctl`` is not available (non-Linux).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    parent_pid = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        # If the parent died between fork() and prctl(), no signal will
        # come: we were already re-parented.
        if os.getppid() != parent_pid:
            os._exit(128 + signal.SIGTERM)

    return preexec


def _stderr_log(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        # A closed or broken stderr must not stop the supervision.
        pass


ENV_RESTART_COUNT = "RESTART_COUNT"  # restarts before this run of the child
ENV_LOOP_SINCE = "RESTART_LOOP_SINCE"  # Unix time the restart loop started


class Supervisor:
    """Keeps ``command`` running; see the module docstring for exit codes.

    The child shares our stdin/stdout/stderr (its output passes straight
    through; we only ever write to stderr) and our process group, so that
    Ctrl-C in a terminal and honcho's ``killpg`` reach it directly as well.
    We forward stop signals anyway, for when only our pid is signalled.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        name: str | None = None,
        policy: RestartPolicy | None = None,
        stop_timeout: float = 4.5,
        log: Callable[[str], None] = _stderr_log,
        on_status: Callable[[Status], None] | None = None,
        stop_signals: Sequence[int] = STOP_SIGNALS,
        use_pidfd: bool | None = None,
    ) -> None:
        if not command:
            raise ValueError("empty command")
        self.command = list(command)
        self.name = name or os.path.basename(self.command[0])
        self.policy = policy or RestartPolicy()
        self.stop_timeout = stop_timeout
        self._log = log
        self._on_status = on_status
        self._stop_signals = tuple(stop_signals)
        self._use_pidfd = use_pidfd
        self._preexec = pdeathsig_preexec()
        self._last_start_wall: float | None = None
        self._last_exit: int | None = None
        self._loop_since = time.time()

    # -- helpers ---------------------------------------------------------

    def log(self, message: str) -> None:
        self._log(f"restart-loop[{self.name}]: {message}")

    def _status(self, state: str, pid: int | None = None, next_delay: float | None = None) -> None:
        if self._on_status is None:
            return
        self._on_status(
            Status(
                name=self.name,
                state=state,
                pid=pid,
                restart_count=self.policy.restart_count,
                last_start=self._last_start_wall,
                last_exit=self._last_exit,
                next_delay=next_delay,
            )
        )

    def _spawn(self) -> subprocess.Popen[bytes]:
        # No shell, inherited stdio, same process group, no inherited fds
        # except stdio (close_fds default). The child learns how often it was
        # restarted and since when the loop runs, to report them (steem-status).
        env = {
            **os.environ,
            ENV_RESTART_COUNT: str(self.policy.starts),
            ENV_LOOP_SINCE: f"{self._loop_since:.3f}",
        }
        return subprocess.Popen(self.command, preexec_fn=self._preexec, env=env)

    # -- main loop -------------------------------------------------------

    def run(self) -> int:
        with SignalWaiter(self._stop_signals, use_pidfd=self._use_pidfd) as waiter:
            return self._run(waiter)

    def _run(self, waiter: SignalWaiter) -> int:
        while True:
            signum = waiter.wait(timeout=0)
            if signum is not None:
                self.log(f"received {signal_name(signum)}; exiting")
                return EXIT_STOPPED
            try:
                proc = self._spawn()
            except (OSError, subprocess.SubprocessError) as exc:
                self.log(f"cannot start {self.command[0]!r}: {_why(exc)}; not restarting")
                return EXIT_CANNOT_START
            self.policy.started()
            self._last_start_wall = time.time()
            if self.policy.restart_count:
                self.log(
                    f"restarted {self.name} (pid {proc.pid}, restart {self.policy.restart_count})"
                )
            else:
                self.log(f"started {self.name} (pid {proc.pid})")
            self._status("running", pid=proc.pid)

            signum = waiter.wait(proc)
            if signum is not None:
                return self._stop(waiter, proc, signum)

            returncode = proc.returncode
            self._last_exit = returncode
            decision = self.policy.exited(returncode)
            if not decision.restart:
                self.log(
                    f"{self.name} {describe_exit(returncode)} (configuration error); not restarting"
                )
                self._status("exited")
                return returncode
            self.log(
                f"{self.name} {describe_exit(returncode)} after {decision.runtime:.1f} s "
                f"(restart {self.policy.restart_count + 1}, "
                f"next in {fmt_seconds(decision.delay)} s)"
            )
            self._status("waiting", next_delay=decision.delay)
            signum = waiter.wait(timeout=decision.delay)
            if signum is not None:
                self.log(f"received {signal_name(signum)} during restart delay; exiting")
                self._status("exited")
                return EXIT_STOPPED

    def _stop(self, waiter: SignalWaiter, proc: subprocess.Popen[bytes], signum: int) -> int:
        self._status("stopping", pid=proc.pid)
        if proc.poll() is None:
            self.log(f"received {signal_name(signum)}; forwarding to {self.name} (pid {proc.pid})")
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)
        else:
            self.log(f"received {signal_name(signum)}; {self.name} already exited")
        deadline = time.monotonic() + self.stop_timeout
        while proc.poll() is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                proc.kill()
                self.log(
                    f"{self.name} did not stop within {fmt_seconds(self.stop_timeout)} s "
                    f"after {signal_name(signum)}; sent SIGKILL"
                )
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    self.log(f"{self.name} (pid {proc.pid}) still not reaped after SIGKILL")
                self._last_exit = proc.returncode
                self._status("exited")
                return EXIT_KILLED
            again = waiter.wait(proc, timeout=remaining)
            if again is not None:
                # Honcho's killpg plus our forwarding, or an impatient
                # second Ctrl-C: the child already has the signal, so just
                # keep waiting until the stop timeout.
                self.log(f"received {signal_name(again)} while stopping; still waiting")
        self._last_exit = proc.returncode
        self.log(f"{self.name} stopped ({describe_exit(proc.returncode)})")
        self._status("exited")
        return EXIT_STOPPED


def _why(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "command not found"
    if isinstance(exc, PermissionError):
        return "permission denied (not executable?)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
