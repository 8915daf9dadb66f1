"""Publishing blocks into the STEEM stream, exactly once.

Each operation goes to `steem.op.<type>` with a Nats-Msg-Id made of the block id and its
position; then `steem.block` closes the block. That message is the checkpoint: it is sent
only after the server has acknowledged every operation of the block, so the stream never
holds a `steem.block` whose operations are missing. On a restart we carry on after the
last `steem.block`, and skip the operations of the half-published block that the stream
already holds (the duplicate window would catch them too, but only for its length).
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
from ipc_config import (
    BLOCK_SUBJECT,
    FORK_SUBJECT,
    HEADER_BLOCK_ID,
    HEADER_BLOCK_NUM,
    HEADER_MSG_ID,
    HEADER_TIMESTAMP,
    HEADER_TRX_ID,
    INVALID_SUBJECT,
    STREAM_NAME,
    block_msg_id,
    op_msg_id,
    op_subject,
)
from nats.aio.client import Client

from broadcaster.blocks import Block, Operation
from broadcaster.follow import Fork

log = logging.getLogger(__name__)

HEADER_PROBLEM = "Steem-Problem"
ACK_TIMEOUT = 3.0  # seconds to wait for the server's acks of one block
RETRY_DELAY_MAX = 5.0
PUBLISH_ERRORS = (nats.errors.Error, asyncio.TimeoutError, OSError)
HEADERS_ROOM = 4096  # bytes kept for headers under the server's max_payload
RECENT_SCAN_PER_BLOCK = 100  # stream messages looked through per block id remembered


class Stopped(Exception):
    """Shutdown was asked for while a block could not be stored."""


@dataclass(frozen=True)
class Checkpoint:
    """The last block the stream holds completely."""

    block_num: int
    block_id: str
    seq: int


def _block_ref(ref: tuple[int, str]) -> dict[str, Any]:
    return {"block_num": ref[0], "block_id": ref[1]}


def encode(value: Any) -> bytes:
    # ensure_ascii keeps lone surrogates (a node's invalid \ud800 escapes) as escapes,
    # so the payload is valid UTF-8 JSON that decodes back to exactly what the node sent.
    return json.dumps(value, separators=(",", ":")).encode()


def op_message(block: Block, op: Operation, max_payload: int) -> tuple[str, bytes, dict[str, str]]:
    """Subject, payload and headers of one operation; `steem.invalid` for what cannot go."""
    headers = {
        HEADER_MSG_ID: op_msg_id(block.id, op.trx_index, op.op_index),
        HEADER_BLOCK_NUM: str(block.num),
        HEADER_BLOCK_ID: block.id,
        HEADER_TRX_ID: op.trx_id,
        HEADER_TIMESTAMP: block.timestamp,
    }
    if op.type is None:
        headers[HEADER_PROBLEM] = op.problem
        return INVALID_SUBJECT, encode(op.body), headers
    payload = encode(op.body)
    if len(payload) > max_payload - HEADERS_ROOM:
        # NATS refuses it whole: announce it instead, so it is reported, not lost silently.
        headers[HEADER_PROBLEM] = (
            f"{op.type} body of {len(payload)} bytes is over the server's max_payload {max_payload}"
        )
        preview = {"type": op.type, "size": len(payload), "start": payload[:1024].decode()}
        return INVALID_SUBJECT, encode(preview), headers
    return op_subject(op.type), payload, headers


def block_message(block: Block) -> tuple[str, bytes, dict[str, str]]:
    body = {
        "block_num": block.num,
        "block_id": block.id,
        "previous": block.previous,
        "timestamp": block.timestamp,
        "op_count": len(block.operations),
    }
    headers = {
        HEADER_MSG_ID: block_msg_id(block.id),
        HEADER_BLOCK_NUM: str(block.num),
        HEADER_BLOCK_ID: block.id,
        HEADER_TIMESTAMP: block.timestamp,
    }
    return BLOCK_SUBJECT, encode(body), headers


class Publisher:
    def __init__(self, nc: Client, stop: asyncio.Event) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._stop = stop
        self.duplicates = 0  # messages the stream already had (dropped by its dedupe)

    async def checkpoint(self) -> Checkpoint | None:
        try:
            msg = await self._js.get_last_msg(STREAM_NAME, BLOCK_SUBJECT)
        except nats.js.errors.NotFoundError:
            return None
        body = json.loads(msg.data)
        return Checkpoint(int(body["block_num"]), body["block_id"], msg.seq)

    async def stored_since_checkpoint(self) -> set[str]:
        """Message ids of what the stream holds after the last `steem.block`."""
        state = (await self._js.stream_info(STREAM_NAME)).state
        if state.messages == 0:
            return set()
        checkpoint = await self.checkpoint()
        first = max(checkpoint.seq + 1 if checkpoint else state.first_seq, state.first_seq)
        ids = set()
        for seq in range(first, state.last_seq + 1):
            try:
                msg = await self._js.get_msg(STREAM_NAME, seq)
            except nats.js.errors.NotFoundError:
                continue  # deleted or expired
            ids.add((msg.headers or {}).get(HEADER_MSG_ID, ""))
        return ids

    async def recent_block_ids(self, checkpoint: Checkpoint | None, depth: int) -> dict[int, str]:
        """Number -> id of the last `depth` blocks closed in the stream (at most)."""
        if checkpoint is None:
            return {}
        ids = {checkpoint.block_num: checkpoint.block_id}
        if depth <= 1:
            return ids
        state = (await self._js.stream_info(STREAM_NAME)).state
        seq = max(state.first_seq, checkpoint.seq - depth * RECENT_SCAN_PER_BLOCK)
        while seq < checkpoint.seq:
            try:
                msg = await self._js.get_msg(STREAM_NAME, seq, subject=BLOCK_SUBJECT, next=True)
            except nats.js.errors.NotFoundError:
                break
            body = json.loads(msg.data)
            ids[int(body["block_num"])] = body["block_id"]
            seq = msg.seq + 1
        return dict(sorted(ids.items())[-depth:])

    async def publish(self, block: Block, already_stored: set[str] | None = None) -> None:
        """Store the block's operations and then its `steem.block`; retry until done."""

        async def attempt(retry: int) -> None:
            stored = await self.stored_since_checkpoint() if retry else (already_stored or set())
            await self._publish_once(block, stored)

        await self._until_done(f"block {block.num}", attempt)

    async def publish_fork(self, fork: Fork) -> None:
        """Tell consumers which blocks the chain dropped, before the blocks replacing them."""
        body = {
            "fork_point": _block_ref(fork.fork_point),
            "abandoned": [_block_ref(ref) for ref in fork.abandoned],
            "new_branch": [_block_ref(ref) for ref in fork.new_branch],
        }
        first_new = fork.new_branch[0][1] if fork.new_branch else fork.fork_point[1]
        headers = {HEADER_MSG_ID: f"fork/{first_new}"}

        async def attempt(retry: int) -> None:
            await self._js.publish(FORK_SUBJECT, encode(body), headers=headers, timeout=ACK_TIMEOUT)

        await self._until_done(f"fork at block {fork.fork_point[0]}", attempt)

    async def _until_done(self, what: str, attempt: Callable[[int], Awaitable[None]]) -> None:
        """Run `attempt` until the server has stored it; give up only on shutdown."""
        retry = 0
        while True:
            try:
                await attempt(retry)
                if retry:
                    log.info("%s stored after %d retries", what, retry)
                return
            except PUBLISH_ERRORS as err:
                retry += 1
                delay = min(0.25 * 2**retry, RETRY_DELAY_MAX)
                log.warning(
                    "%s not stored yet (%s); retry %d in %.1f s",
                    what, type(err).__name__, retry, delay,
                )  # fmt: skip
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except TimeoutError:
                    continue
                raise Stopped from err

    async def _publish_once(self, block: Block, already_stored: set[str]) -> None:
        acks = []
        try:
            for op in block.operations:
                subject, payload, headers = op_message(block, op, self._nc.max_payload)
                if headers[HEADER_MSG_ID] in already_stored:
                    continue
                if subject == INVALID_SUBJECT:
                    log.warning(
                        "block %d: operation %d/%d published on %s: %s",
                        block.num, op.trx_index, op.op_index, INVALID_SUBJECT,
                        headers[HEADER_PROBLEM],
                    )  # fmt: skip
                acks.append(await self._js.publish_async(subject, payload, headers=headers))
            if acks:
                results = await asyncio.wait_for(asyncio.gather(*acks), ACK_TIMEOUT)
                self.duplicates += sum(1 for ack in results if ack.duplicate)
            subject, payload, headers = block_message(block)
            ack = await self._js.publish(subject, payload, headers=headers, timeout=ACK_TIMEOUT)
            self.duplicates += bool(ack.duplicate)
        finally:
            for pending in acks:
                pending.cancel()  # no-op when done; frees the slot of an unanswered one
