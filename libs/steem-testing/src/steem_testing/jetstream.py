"""Talking to a real nats-server from a test: publish, read state, serve a worker a while.

s = WorkerSettings.from_env({"NATS_URL": server.url, "WORKER_STATE_DIR": str(tmp)})
await publish(s, [("steem.op.comment", b'{"n": 1}', {"Nats-Msg-Id": "b/0/0"})])
await serve_until(worker, s, lambda: seen == [1])
info = await with_js(s, lambda js: js.consumer_info("STEEM", "bot"))
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import nats
from ipc_config import ServiceSettings
from nats.js import JetStreamContext
from steem_worker import Worker
from steem_worker.connection import ensure_streams

T = TypeVar("T")


async def with_js(
    settings: ServiceSettings, action: Callable[[JetStreamContext], Awaitable[T]]
) -> T:
    """`action(js)` on a connection of its own, closed afterwards."""
    nc = await nats.connect(list(settings.urls))
    try:
        return await action(nc.jetstream())
    finally:
        await nc.close()


async def publish(
    settings: ServiceSettings, messages: list[tuple[str, bytes, dict[str, str]]]
) -> None:
    """Store `(subject, payload, headers)` messages, the streams made as `settings` say."""

    async def store(js: JetStreamContext) -> None:
        await ensure_streams(js, settings)
        for subject, data, headers in messages:
            await js.publish(subject, data, headers=headers)

    await with_js(settings, store)


async def serve_until(
    worker: Worker, settings: Any, done: Callable[[], Any], timeout: float = 15
) -> None:
    """Serve `worker` until `done()` is true (a coroutine function's result is awaited),
    then stop it; a worker that stops by itself raises what stopped it."""
    stop = asyncio.Event()
    serving = asyncio.create_task(worker.serve(settings, stop))
    try:
        async with asyncio.timeout(timeout):
            while not serving.done():
                result = done()
                if asyncio.iscoroutine(result):
                    result = await result
                if result:
                    break
                await asyncio.sleep(0.02)
        if serving.done():
            serving.result()
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)
