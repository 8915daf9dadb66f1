"""When (and whether) to restart a child: pure bookkeeping, no processes.

Kept apart from the supervision code so that it can be unit-tested with a
fake clock, and so that a status reporter can read the counters later
(``restart_count``, ``last_start``, ``next_delay``) without touching the
process handling. The growing wait is the project's one retry policy,
``ipc_config.backoff.Backoff``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

# Standard library only, and ipc_config loads its other modules lazily: the loop (one per
# Procfile line) does not pay for pydantic or nats-py.
from ipc_config.backoff import Backoff


class Decision(NamedTuple):
    """What to do after the child exited on its own."""

    restart: bool
    """False when the exit code is one of the no-restart codes."""
    delay: float
    """Seconds to wait before the restart (0.0 when not restarting)."""
    runtime: float
    """How long the run that just ended lasted, in seconds."""


class RestartPolicy:
    """Exponential backoff for a crashing child.

    * The first restart waits ``delay`` seconds.
    * Each further *quick* crash (a run shorter than ``healthy_after``)
      doubles the wait, capped at ``max_delay``.
    * A run that lasted at least ``healthy_after`` seconds resets the wait to
      ``delay``.
    * An exit code in ``no_restart_codes`` means "configuration error": a
      restart will not help, so :meth:`exited` says not to restart.

    ``clock`` must be monotonic; it is injectable for tests.
    """

    def __init__(
        self,
        delay: float = 3.0,
        max_delay: float = 60.0,
        healthy_after: float = 30.0,
        no_restart_codes: Iterable[int] = (2,),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for label, value in (
            ("delay", delay),
            ("max_delay", max_delay),
            ("healthy_after", healthy_after),
        ):
            if value < 0:
                raise ValueError(f"{label} must be >= 0, got {value!r}")
        self.delay = float(delay)
        self.max_delay = float(max_delay)
        self.healthy_after = float(healthy_after)
        self.no_restart_codes = frozenset(no_restart_codes)
        self._clock = clock
        # The first wait is capped as well: `--delay 10 --max-delay 4` waits 4 s.
        self._backoff = Backoff(start=min(self.delay, self.max_delay), cap=self.max_delay)

        self.starts = 0
        """How many times the child was started (first start included)."""
        self.restart_count = 0
        """How many times the child was restarted (``starts - 1``)."""
        self.last_start: float | None = None
        """``clock()`` value at the latest start."""

    @property
    def next_delay(self) -> float:
        """The wait the next quick crash will get."""
        return self._backoff.upcoming

    def started(self) -> None:
        """Record that the child was (re)started just now."""
        if self.starts:
            self.restart_count += 1
        self.starts += 1
        self.last_start = self._clock()

    def exited(self, returncode: int) -> Decision:
        """Record that the child exited on its own; decide what to do next.

        ``returncode`` follows :mod:`subprocess`: negative means killed by
        that signal.
        """
        if self.last_start is None:
            raise RuntimeError("exited() called before started()")
        runtime = max(0.0, self._clock() - self.last_start)
        if returncode in self.no_restart_codes:
            return Decision(restart=False, delay=0.0, runtime=runtime)
        if runtime >= self.healthy_after:
            # A healthy run: forget earlier crashes.
            self._backoff.reset()
        return Decision(restart=True, delay=self._backoff.next(), runtime=runtime)
