"""Race-free waiting for "child exited", "signal received" or "timeout".

How it works (no busy polling, no sleep loops):

* ``signal.set_wakeup_fd`` makes the C-level signal handler write the
  signal number as one byte into a non-blocking pipe, at the moment the
  signal arrives. The Python-level handlers we install do nothing; they
  exist only so that the signal is caught instead of killing us (SIGTERM,
  SIGHUP) or raising ``KeyboardInterrupt`` (SIGINT). Because the byte is
  written even if the signal arrives just *before* we block, no signal can
  slip through between "check" and "wait".
* The child's exit is watched with a pidfd (``os.pidfd_open``, Linux 5.3+),
  which becomes readable when the child exits, even if that happened before
  we started waiting (the child stays a zombie until we reap it).
* Without pidfd (older kernel, other Unix, sandbox refusing the syscall) we
  catch SIGCHLD the same way as the other signals, so a child exit also
  writes a byte into the wakeup pipe.

Both the pipe and the pidfd are watched with one ``selectors`` call.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections import deque
from collections.abc import Iterable, Iterator
from types import TracebackType


def _ignore_signal(signum: int, frame: object) -> None:
    """Python-level handler: the wakeup fd already recorded the signal."""


def _pidfd_works() -> bool:
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        fd = os.pidfd_open(os.getpid())
    except OSError:
        return False
    os.close(fd)
    return True


class SignalWaiter:
    """Context manager owning the signal handlers while the loop runs.

    Must be entered from the main thread (a :mod:`signal` restriction).
    Signals that are ignored (``SIG_IGN``) on entry stay ignored, as a shell
    would do for a background job (e.g. SIGHUP under ``nohup``); the child
    then inherits the ignored disposition too.
    """

    def __init__(self, signals: Iterable[int], use_pidfd: bool | None = None) -> None:
        self._signals = tuple(signals)
        self._use_pidfd = _pidfd_works() if use_pidfd is None else use_pidfd
        self._pending: deque[int] = deque()
        self._saved_handlers: dict[int, object] = {}
        self._read_fd = -1
        self._write_fd = -1
        self._old_wakeup_fd = -1
        self._selector: selectors.BaseSelector | None = None

    @property
    def watched_signals(self) -> tuple[int, ...]:
        """The stop signals we actually handle (not those ignored on entry)."""
        return tuple(s for s in self._signals if s in self._saved_handlers)

    @property
    def uses_pidfd(self) -> bool:
        return self._use_pidfd

    def __enter__(self) -> SignalWaiter:
        self._read_fd, self._write_fd = os.pipe()  # both non-inheritable
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._read_fd, selectors.EVENT_READ)
        # Wakeup fd first, handlers second: no signal can be missed.
        self._old_wakeup_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for signum in self._signals:
            if signal.getsignal(signum) == signal.SIG_IGN:
                continue
            self._saved_handlers[signum] = signal.signal(signum, _ignore_signal)
        # SIGCHLD set to SIG_IGN would make the kernel reap children itself
        # and lose their exit codes.
        if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
            self._saved_handlers[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if not self._use_pidfd:
            self._catch_sigchld()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, handler in self._saved_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._saved_handlers.clear()
        signal.set_wakeup_fd(self._old_wakeup_fd)
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        for fd in (self._read_fd, self._write_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._write_fd = -1

    def _catch_sigchld(self) -> None:
        if signal.SIGCHLD not in self._saved_handlers:
            self._saved_handlers[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, _ignore_signal)
        else:
            signal.signal(signal.SIGCHLD, _ignore_signal)

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self._read_fd, 256)
            except BlockingIOError:
                return
            if not data:
                return
            self._pending.extend(b for b in data if b != signal.SIGCHLD)

    def _pop_signal(self) -> int | None:
        self._drain()
        return self._pending.popleft() if self._pending else None

    @contextlib.contextmanager
    def _watch(self, proc: subprocess.Popen[bytes] | None) -> Iterator[None]:
        """Register a pidfd for ``proc`` for the duration of one wait."""
        if proc is None or not self._use_pidfd or proc.returncode is not None:
            yield
            return
        assert self._selector is not None
        try:
            pidfd = os.pidfd_open(proc.pid)
        except OSError:
            # Should not happen (the child is ours and not reaped yet), but
            # never block forever: switch to SIGCHLD for good. Anything that
            # happened before the handler was installed is caught by the
            # poll() the caller does before blocking.
            self._use_pidfd = False
            self._catch_sigchld()
            yield
            return
        try:
            self._selector.register(pidfd, selectors.EVENT_READ)
            try:
                yield
            finally:
                self._selector.unregister(pidfd)
        finally:
            os.close(pidfd)

    def wait(
        self,
        proc: subprocess.Popen[bytes] | None = None,
        timeout: float | None = None,
    ) -> int | None:
        """Block until a watched signal arrives, ``proc`` exits, or ``timeout``.

        Returns the signal number, or None (then ``proc.returncode`` tells
        whether the child exited, else the timeout expired). A signal wins
        over a simultaneous child exit: when the whole process group gets
        SIGTERM (honcho), the child's death is then reported as a stop, not
        as a crash. Queued signals are returned one per call.
        ``timeout=0`` only checks what is pending.
        """
        assert self._selector is not None, "use SignalWaiter as a context manager"
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._watch(proc):
            while True:
                # Reap first, then look at signals: a signal that killed the
                # child was delivered to us before we could see the exit.
                exited = proc is not None and proc.poll() is not None
                signum = self._pop_signal()
                if signum is not None:
                    return signum
                if exited:
                    return None
                if deadline is None:
                    remaining = None
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                self._selector.select(remaining)
