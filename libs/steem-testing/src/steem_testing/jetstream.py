"""Talking to a real nats-server from a test: publish, read state, serve a worker a while.

s = WorkerSettings.from_env({"NATS_URL": server.url, "WORKER_STATE_DIR": str(tmp)})
await publish(s, [("steem.op.comment", b'{"n": 1}', {"Nats-Msg-Id": "b/0/0"})])
await serve_until(worker, s, lambda: seen == [1])
info = await with_js(s, lambda js: js.consumer_info("STEEM", "bot"))
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
from ipc_config import BLOCK_SUBJECT, STREAM_NAME, ServiceSettings
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
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


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    subject: str
    headers: dict[str, str]
    data: bytes


async def stream_messages(url: str, stream: str = STREAM_NAME) -> list[StoredMessage]:
    """Every message `stream` holds, in order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(stream)).state
        messages = []
        for seq in range(state.first_seq, state.last_seq + 1):
            try:
                msg = await js.get_msg(stream, seq)
            except NotFoundError:
                continue
            messages.append(StoredMessage(msg.seq, msg.subject, dict(msg.headers or {}), msg.data))
        return messages
    finally:
        await nc.close()


async def last_closed_block(url: str) -> int | None:
    """The number of the last block closed by a `steem.block` message (None before one)."""
    nc = await nats.connect(url, allow_reconnect=False)
    try:
        msg = await nc.jetstream().get_last_msg(STREAM_NAME, BLOCK_SUBJECT)
        return json.loads(msg.data)["block_num"]
    except NotFoundError:
        return None
    finally:
        await nc.close()
