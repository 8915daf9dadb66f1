"""Talking to a real nats-server from a test: publish, read state, serve a worker a while.

s = WorkerSettings.from_env({"NATS_URL": server.url, "WORKER_STATE_DIR": str(tmp)})
await publish(s, [("steem.op.comment", b'{"n": 1}', {"Nats-Msg-Id": "b/0/0"})])
await serve_until(worker, s, lambda: seen == [1])
info = await consumer_info(s, "bot")                          # None before it exists
messages = await stream_messages(local_nats(url, tmp_path))   # a honcho run's closed NATS
wait_until(lambda: last_block_of(url) == 5000, 30, "block 5000")   # from a test's thread

Every helper connects as the app's processes do (`connect_options`): with what the
settings name, or a URL alone. The bundled server (nats-local) of a honcho run lets in
only holders of its nkey, which its processes find in their working directory; a test
runs elsewhere, so it names that nkey with `local_nats(url, workdir)`.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import nats
from ipc_config import BLOCK_SUBJECT, STREAM_NAME, NatsSettings, ServiceSettings
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from nats.js.errors import NotFoundError
from steem_worker import Worker
from steem_worker.connection import connect_options, ensure_streams

T = TypeVar("T")
Target = str | list[str] | NatsSettings  # a URL, a cluster's URLs, or a process's settings


def local_nats(url: str, workdir: Path) -> NatsSettings:
    """Settings for the bundled server at `url` whose processes run in `workdir`: its
    nkey, as a process of that folder finds it, named as NATS_NKEY."""
    seed = NatsSettings.from_env({"NATS_URL": url}).local_credentials(workdir)
    if seed is None:
        raise AssertionError(f"nats-local made no credentials for {url} in {workdir}")
    return NatsSettings.from_env({"NATS_URL": url, "NATS_NKEY": str(seed.resolve())})


async def connect_nats(target: Target, **options: Any) -> Client:
    """A connection made with what `target` says, as `steem_worker.connection` makes it."""
    if isinstance(target, list):
        target = ",".join(target)
    if isinstance(target, str):
        target = NatsSettings.from_env({"NATS_URL": target})
    return await nats.connect(list(target.urls), **connect_options(target), **options)


async def with_js(
    target: Target,
    action: Callable[[JetStreamContext], Awaitable[T]],
    timeout: float = 5,
    **options: Any,
) -> T:
    """`action(js)` on a connection of its own (`options` to nats.connect), closed
    afterwards; `timeout` bounds each JetStream request."""
    nc = await connect_nats(target, **options)
    try:
        return await action(nc.jetstream(timeout=timeout))
    finally:
        await nc.close()


async def consumer_info(
    target: Target, name: str, stream: str = STREAM_NAME
) -> ConsumerInfo | None:
    """The state of the durable consumer `name` (None before a worker made it)."""

    async def read(js: JetStreamContext) -> ConsumerInfo | None:
        try:
            return await js.consumer_info(stream, name)
        except NotFoundError:
            return None

    return await with_js(target, read, allow_reconnect=False)


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


async def stream_messages(target: Target, stream: str = STREAM_NAME) -> list[StoredMessage]:
    """Every message `stream` holds, in order."""

    async def read(js: JetStreamContext) -> list[StoredMessage]:
        state = (await js.stream_info(stream)).state
        messages = []
        for seq in range(state.first_seq, state.last_seq + 1):
            try:
                msg = await js.get_msg(stream, seq)
            except NotFoundError:
                continue
            messages.append(StoredMessage(msg.seq, msg.subject, dict(msg.headers or {}), msg.data))
        return messages

    return await with_js(target, read)


async def last_closed_block(target: Target, timeout: float = 5) -> int | None:
    """The number of the last block closed by a `steem.block` message (None before one)."""

    async def read(js: JetStreamContext) -> int | None:
        try:
            msg = await js.get_last_msg(STREAM_NAME, BLOCK_SUBJECT)
        except NotFoundError:
            return None
        return json.loads(msg.data)["block_num"]

    return await with_js(target, read, timeout, allow_reconnect=False)


def last_block_of(target: Target, timeout: float = 5) -> int | None:
    """last_closed_block from a test's own thread; None too while NATS cannot say (no
    stream yet, the server restarting, an election in a cluster)."""
    try:
        return asyncio.run(last_closed_block(target, timeout))
    except Exception:
        return None
