"""A worker's handlers run in memory: unit tests without NATS or processes.

    from steem_testing.memory import WorkerHarness
    from transfer_watcher.cli import worker

    async def test_a_watched_transfer_is_printed(capsys):
        harness = WorkerHarness(worker, {"WATCH_ACCOUNTS": "alice"})
        body = {"from": "alice", "to": "bob", "amount": "1.000 STEEM", "memo": ""}
        assert await harness.op("transfer", body, block_num=5) == "handled"
        assert capsys.readouterr().out == 'transfer 1.000 STEEM alice -> bob "" (block 5)\\n'

Messages go through the worker's own routing and outcome rules (`Worker.dispatch`), so
what the harness answers is what the real worker would do: `handled`, `skipped` (its
filter said no), `dropped` (it raised Drop), `retry` (Retry or an error, before its last
attempt) or `dead` (kept as a dead letter: `harness.dead_letters`). What a handler asked
the signer for with `meta.act(...)` is in `harness.requests`.
"""

import json
import tempfile
import time
from typing import Any

from ipc_config import (
    BLOCK_SUBJECT,
    DEAD_SUBJECT_PREFIX,
    FORK_SUBJECT,
    STREAM_NAME,
    op_subject,
    vop_subject,
)
from nats.aio.msg import Msg
from steem_worker import Worker
from steem_worker.worker import Context

from steem_testing.messages import op_headers


class WorkerHarness:
    def __init__(self, worker: Worker, env: dict[str, str] | None = None) -> None:
        """`env`: the worker's settings, as environment variables (nothing else is read)."""
        state = tempfile.mkdtemp(prefix="steem-harness-")  # never the project's .data
        self.worker = worker
        self.settings = worker.settings_type.from_env({"WORKER_STATE_DIR": state, **(env or {})})
        self.params = worker.params(self.settings)
        self.context = Context(self.settings, self.params, self)
        self.dead_letters: list[tuple[str, bytes, dict[str, str]]] = []
        self.requests: list[dict[str, Any]] = []  # what the handlers asked the signer for
        self._seq = 0

    async def start(self) -> None:
        """Run the worker's `on_start` hooks, as a real start does before consuming."""
        for hook in self.worker._on_start:
            result = hook(self.settings)
            if hasattr(result, "__await__"):
                await result

    async def op(
        self,
        op_type: str,
        body: Any,
        *,
        delivery: int = 1,
        headers: dict[str, str] | None = None,
        **where: int,
    ) -> str:
        """An operation (`where`: block_num, trx_index, op_index; `headers`: more, such
        as Steem-Comment) to its handler."""
        all_headers = {**op_headers(**where), **(headers or {})}
        return await self.send(op_subject(op_type), body, all_headers, delivery)

    async def vop(self, vop_type: str, body: Any, *, delivery: int = 1, **where: int) -> str:
        return await self.send(vop_subject(vop_type), body, op_headers(**where), delivery)

    async def block(self, body: dict[str, Any], *, delivery: int = 1) -> str:
        headers = op_headers(int(body.get("block_num", 1)))
        return await self.send(BLOCK_SUBJECT, body, headers, delivery)

    async def fork(self, body: dict[str, Any], *, delivery: int = 1) -> str:
        return await self.send(FORK_SUBJECT, body, {}, delivery)

    async def send(
        self, subject: str, body: Any, headers: dict[str, str], delivery: int = 1
    ) -> str:
        """Any message (`body` as JSON, or bytes as they are); returns its outcome."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self._seq += 1
        msg = Msg(
            _client=None,
            subject=subject,
            reply=_ack_subject(self.worker.name, self._seq, delivery),
            data=data,
            headers=dict(headers),
        )
        verdict = await self.worker.dispatch(msg, self.context)
        return verdict.outcome

    async def store(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        """The worker's outlet: its dead letters and its requests, kept here."""
        if subject.startswith(DEAD_SUBJECT_PREFIX):
            self.dead_letters.append((subject, data, headers))
        else:
            self.requests.append(json.loads(data))


def _ack_subject(consumer: str, seq: int, delivery: int) -> str:
    """The reply subject JetStream gives a delivered message: nats-py reads its metadata
    (stream, consumer, delivery count, sequences) from it."""
    stamp = time.time_ns()
    return f"$JS.ACK.{STREAM_NAME}.{consumer}.{delivery}.{seq}.{seq}.{stamp}.0"
