"""When (and whether) to restart a child: pure bookkeeping, no processes.

Kept apart from the supervision code so that it can be unit-tested with a
fake clock, and so that a status reporter can read the counters later
(``restart_count``, ``last_start``, ``next_delay``) without touching the
process handling. The growing wait is the project's one retry policy,
``ipc_config.backoff.Backoff``.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ipc_config.backoff import Backoff


def _backoff_class() -> type[Backoff]:
    """``ipc_config.backoff.Backoff``, without running ``ipc_config/__init__.py``.

    That ``__init__`` imports the settings (pydantic) and the stream (nats-py): 0.5 s
    and 27 MB more for every restart loop, one per Procfile line, which needs none of
    it. ``backoff.py`` itself is standard library only, so it is loaded on its own,
    under a private name (a half-registered ``ipc_config.backoff`` would confuse a later
    ``import ipc_config``).
    """
    name = "_restart_loop_backoff"
    if name not in sys.modules:
        package = importlib.util.find_spec("ipc_config")  # finds it without importing it
        if package is None or not package.submodule_search_locations:
            raise ImportError("ipc-config is not installed; run `uv sync`")
        path = Path(next(iter(package.submodule_search_locations))) / "backoff.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # as `import` does: dataclasses reads it there
        spec.loader.exec_module(module)
    return sys.modules[name].Backoff


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
        self._backoff = _backoff_class()(start=min(self.delay, self.max_delay), cap=self.max_delay)

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
