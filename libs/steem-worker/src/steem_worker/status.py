"""Reporting a process's state to the status bucket, for `steem-status`.

Every few seconds the process writes its pid, host, start time, restart count (from the
restart loop) and any fields of its own (the broadcaster's chain position) under its
key. Reporting is best effort: a failed write is logged at debug level and retried at
the next tick; it never stops the process.
"""

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from typing import Any

import nats.errors
from ipc_config import STATUS_BUCKET, STATUS_INTERVAL, STATUS_TTL, process_status_key
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from steem_worker.connection import ensure_bucket

log = logging.getLogger(__name__)


async def status_bucket(js: JetStreamContext, replicas: int = 1) -> KeyValue:
    """The status bucket, created on first use (in memory: it is only live state), with as
    many copies as the stream, so that it survives a cluster node going down."""
    return await ensure_bucket(
        js,
        KeyValueConfig(
            bucket=STATUS_BUCKET,
            history=1,
            ttl=STATUS_TTL,
            storage=StorageType.MEMORY,
            replicas=replicas,
        ),
    )


def instance_name(process: str) -> str:
    """`bot.1` under honcho; otherwise the process name, host and pid."""
    return (
        os.environ.get("HONCHO_PROCESS_NAME") or f"{process}@{socket.gethostname()}-{os.getpid()}"
    )


class StatusReporter:
    def __init__(
        self,
        js: JetStreamContext,
        process: str,
        interval: float = STATUS_INTERVAL,
        replicas: int = 1,
        state: str = "running",
    ) -> None:
        self._js = js
        self._state = state
        self._replicas = replicas
        self._interval = interval
        self.instance = instance_name(process)
        # bot.1 runs on every machine of a multi-machine layout: the host tells them apart.
        self.key = process_status_key(f"{self.instance}@{socket.gethostname()}")
        self._fields: dict[str, Any] = {
            "process": process,
            "instance": self.instance,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": time.time(),
            "restarts": int(os.environ.get("RESTART_COUNT", "0") or 0),
            "loop_since": float(os.environ.get("RESTART_LOOP_SINCE", "0") or 0) or None,
        }
        self._task: asyncio.Task | None = None
        self._extra: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._bucket: KeyValue | None = None

    def update(self, **fields: Any) -> None:
        """Fields of the process's own, written with the next report."""
        self._fields.update(fields)

    def set_state(self, state: str) -> None:
        """`running`, `standby`... written at once."""
        if state != self._state:
            self._state = state
            self._wake.set()

    def also_write(self, key: str, value: dict[str, Any]) -> None:
        """Another key written at each report (the broadcaster's `broadcaster` key).

        A key's first value is written at once, not at the next tick.
        """
        if key not in self._extra:
            self._wake.set()
        self._extra[key] = value

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        # The flag as well as the cancel: Python 3.11's wait_for can swallow a cancel that
        # lands as its wait ends (the wake just set), and the loop would go on for ever.
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._write("stopped"), 1.0)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._write(self._state)
            except (TimeoutError, nats.errors.Error, OSError) as err:
                log.debug("status report failed: %r", err)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    async def _write(self, state: str) -> None:
        if self._bucket is None:
            self._bucket = await status_bucket(self._js, self._replicas)
        bucket = self._bucket
        now = time.time()
        report = {**self._fields, "state": state, "updated_at": now}
        report["uptime"] = now - report["started_at"]
        await bucket.put(self.key, json.dumps(report).encode())
        for key, value in self._extra.items():
            await bucket.put(key, json.dumps({**value, "updated_at": now}).encode())
