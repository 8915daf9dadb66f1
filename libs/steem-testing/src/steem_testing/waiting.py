"""Waiting for a condition, with a deadline and a message that says what was awaited.

wait_until(lambda: last_block_of(url) == 20, 30, "block 20")      # in a test
await until(lambda: consumer_info(url, "bot"), 10, "the consumer")  # in a coroutine
"""

import asyncio
import time
from collections.abc import Callable
from typing import Any


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05):
    """Poll `condition` until it returns something true (returned); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def wait_showing(condition: Callable[[], Any], timeout: float, what: str, *procs):
    """wait_until, and on a timeout the last lines the given processes logged."""
    try:
        return wait_until(condition, timeout, what)
    except AssertionError as err:
        tails = [f"--- {proc.name}:\n" + proc.tail() for proc in procs]
        raise AssertionError("\n".join([str(err), *tails])) from None


def settle(condition: Callable[[], Any], timeout: float) -> bool:
    """Like wait_until, but False at the deadline, so that the test goes on to report
    precisely what is wrong."""
    try:
        wait_until(condition, timeout, "")
    except AssertionError:
        return False
    return True


async def until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05):
    """wait_until in a coroutine: the event loop runs on between polls, and a condition
    that returns an awaitable (a coroutine function) is awaited."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(every)
