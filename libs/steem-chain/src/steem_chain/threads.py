"""Daemon worker threads for blocking node calls, and the process settings a chain fetcher
wants (malloc arenas, the cycle collector).

concurrent.futures' pools join their threads when the interpreter exits, so one request
stalled on a node would hold a stopping process for the whole NODE_TIMEOUT; these threads
are daemons, and a process told to stop exits at once.
"""

import ctypes
import gc
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class DaemonThreads:
    """Runs submitted calls on up to `size` daemon threads, started as they are needed."""

    def __init__(self, size: int, name: str = "steem-chain") -> None:
        self._size = size
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._idle == 0 and self._threads < self._size:
                self._threads += 1
                name = f"{self._name}-{self._threads}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
            else:
                self._idle -= 1 if self._idle else 0
        self._jobs.put((future, fn, args))
        return future

    def _work(self) -> None:
        while True:
            future, fn, args = self._jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as err:  # handed to whoever waits on the future
                    future.set_exception(err)
            with self._lock:
                self._idle += 1


M_ARENA_MAX = -8  # glibc's mallopt() parameter behind MALLOC_ARENA_MAX


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas, as MALLOC_ARENA_MAX does (unless that is set).

    glibc gives a thread that allocates under contention an arena of its own, and memory
    freed in an arena stays with it: with a thread per request in flight, each decoding
    large JSON answers, a long catch-up's resident memory crept up by a dozen MB. A
    process that fetches the chain calls this once; elsewhere than glibc it does nothing.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


YOUNG_COLLECTION_EVERY = 50_000  # allocations; Python's default is 700


def relax_gc() -> None:
    """Collect cycles less often, and never scan what exists at start-up again.

    Every decoded block is a few thousand container objects, none of them in a cycle; with
    a batch per request in flight, decoded and waiting to be published, the collector kept
    scanning them: at 16 requests in flight over loopback it cost the broadcaster 40% of
    its CPU (8.0 -> 4.6 s for 7,000 blocks in bench/catchup.py)."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, 20, 20)
