"""Publishing blocks into the STEEM stream, exactly once and in order.

Each operation goes to `steem.op.<type>` with a Nats-Msg-Id made of the block id and its
position; then `steem.block` closes the block: it is the checkpoint.

A batch of blocks is sent in one go, without waiting for acks in between: every message
carries `Nats-Expected-Last-Sequence`, so the server stores a message only if everything
we sent before it is stored. Whatever fails (a timeout, a leader election, a full disk),
the stream holds a prefix of what we sent, never a `steem.block` whose operations are
missing. After a failure we look at what the stream holds past our last acknowledged
message and send the rest again. On a restart we carry on after the last `steem.block`,
skipping the operations of the half-published block that the stream already holds (the
duplicate window would catch them too, but only for its length).
"""

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
import orjson
from ipc_config import (
    BLOCK_SUBJECT,
    FORK_SUBJECT,
    HEADER_BLOCK_ID,
    HEADER_BLOCK_NUM,
    HEADER_COMMENT,
    HEADER_MSG_ID,
    HEADER_TIMESTAMP,
    HEADER_TRX_ID,
    INVALID_SUBJECT,
    STREAM_NAME,
    block_msg_id,
    op_msg_id,
    op_subject,
    vop_msg_id,
    vop_subject,
)
from nats.aio.client import Client
from steem_chain.blocks import Block, Operation, VirtualOperation

from broadcaster.chain import Stopped
from broadcaster.follow import Batch, Fork

log = logging.getLogger(__name__)

HEADER_PROBLEM = "Steem-Problem"
ACK_TIMEOUT = 5.0  # seconds to wait for the server's acks of one batch
HEADER_EXPECTED_LAST_SEQ = "Nats-Expected-Last-Sequence"
RETRY_DELAY_MAX = 5.0


class OutOfStep(Exception):
    """The stream did not end where we expected after a batch: look again."""


PUBLISH_ERRORS = (nats.errors.Error, asyncio.TimeoutError, OSError, OutOfStep)
HEADERS_ROOM = 4096  # bytes kept for headers under the server's max_payload
RECENT_SCAN_PER_BLOCK = 100  # stream messages looked through per block id remembered


@dataclass(frozen=True)
class Checkpoint:
    """The last block the stream holds completely."""

    block_num: int
    block_id: str
    seq: int


def _block_ref(ref: tuple[int, str]) -> dict[str, Any]:
    return {"block_num": ref[0], "block_id": ref[1]}


def fork_message(fork: Fork) -> tuple[str, bytes, dict[str, str]]:
    body = {
        "fork_point": _block_ref(fork.fork_point),
        "abandoned": [_block_ref(ref) for ref in fork.abandoned],
        "new_branch": [_block_ref(ref) for ref in fork.new_branch],
    }
    first_new = fork.new_branch[0][1] if fork.new_branch else fork.fork_point[1]
    return FORK_SUBJECT, encode(body), {HEADER_MSG_ID: f"fork/{first_new}"}


def encode(value: Any) -> bytes:
    """Compact JSON. orjson is several times faster than json here (it shows in profiles);
    it refuses lone surrogates (a node's invalid \\ud800 escapes), which json keeps as
    escapes, so the payload is always valid UTF-8 JSON that decodes to what the node sent.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
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
    if op.comment is not None:
        headers[HEADER_COMMENT] = op.comment
    return _checked(op_subject, op.type, op.body, op.problem, headers, max_payload)


def vop_message(
    block: Block, vop: VirtualOperation, max_payload: int
) -> tuple[str, bytes, dict[str, str]]:
    """A virtual operation: the same headers as an operation, an id from its position."""
    headers = {
        HEADER_MSG_ID: vop_msg_id(block.id, vop.index),
        HEADER_BLOCK_NUM: str(block.num),
        HEADER_BLOCK_ID: block.id,
        HEADER_TRX_ID: vop.trx_id,
        HEADER_TIMESTAMP: block.timestamp,
    }
    return _checked(vop_subject, vop.type, vop.body, vop.problem, headers, max_payload)


def _checked(
    subject_of: Callable[[str], str],
    op_type: str | None,
    body: Any,
    problem: str,
    headers: dict[str, str],
    max_payload: int,
) -> tuple[str, bytes, dict[str, str]]:
    if op_type is None:
        headers[HEADER_PROBLEM] = problem
        return INVALID_SUBJECT, encode(body), headers
    payload = encode(body)
    if len(payload) > max_payload - HEADERS_ROOM:
        # NATS refuses it whole: announce it instead, so it is reported, not lost silently.
        headers[HEADER_PROBLEM] = (
            f"{op_type} body of {len(payload)} bytes is over the server's max_payload {max_payload}"
        )
        preview = {"type": op_type, "size": len(payload), "start": payload[:1024].decode()}
        return INVALID_SUBJECT, encode(preview), headers
    return subject_of(op_type), payload, headers


def block_message(block: Block) -> tuple[str, bytes, dict[str, str]]:
    """The block's closing message. Its `transaction_ids` (in block order) let the signer
    confirm that a block included what it broadcast, without asking a node."""
    body = {
        "block_num": block.num,
        "block_id": block.id,
        "previous": block.previous,
        "timestamp": block.timestamp,
        "op_count": len(block.operations),
        "vop_count": len(block.virtual_ops),
        "transaction_ids": list(dict.fromkeys(op.trx_id for op in block.operations if op.trx_id)),
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
        self._last_seq: int | None = None  # of the last message we know the stream holds
        self.duplicates = 0  # messages the stream already had (dropped by its dedupe)

    async def checkpoint(self) -> Checkpoint | None:
        try:
            msg = await self._js.get_last_msg(STREAM_NAME, BLOCK_SUBJECT)
        except nats.js.errors.NotFoundError:
            return None
        body = json.loads(msg.data)
        return Checkpoint(int(body["block_num"]), body["block_id"], msg.seq)

    async def stored_since(self, checkpoint: Checkpoint | None) -> set[str]:
        """Message ids of what the stream holds after the checkpoint (the last `steem.block`)."""
        state = (await self._js.stream_info(STREAM_NAME)).state
        if state.messages == 0:
            return set()
        return await self._ids_after(checkpoint.seq if checkpoint else 0, state.last_seq)

    async def _ids_after(self, seq: int, last_seq: int) -> set[str]:
        ids = set()
        for number in range(seq + 1, last_seq + 1):
            try:
                msg = await self._js.get_msg(STREAM_NAME, number)
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

    def messages(self, batch: Batch) -> list[tuple[str, bytes, dict[str, str]]]:
        """Everything a batch publishes, in order: the fork notice, then each block: its
        operations, its virtual operations, its closing `steem.block`."""
        out = [fork_message(batch.fork)] if batch.fork is not None else []
        max_payload = self._nc.max_payload
        for block in batch.blocks:
            for op in block.operations:
                message = op_message(block, op, max_payload)
                if message[0] == INVALID_SUBJECT:
                    _say_invalid(block, f"operation {op.trx_index}/{op.op_index}", message)
                out.append(message)
            for vop in block.virtual_ops:
                message = vop_message(block, vop, max_payload)
                if message[0] == INVALID_SUBJECT:
                    _say_invalid(block, f"virtual operation {vop.index}", message)
                out.append(message)
            out.append(block_message(block))
        return out

    async def publish(self, batch: Batch, already_stored: set[str] | None = None) -> None:
        """Store the batch's messages in order; retry what is missing until all are stored."""
        pending = [
            m for m in self.messages(batch) if m[2][HEADER_MSG_ID] not in (already_stored or ())
        ]
        retry = 0
        while pending:
            try:
                if retry or self._last_seq is None:
                    pending = await self._drop_stored(pending)
                pending, error = await self._send(pending)
                if error is not None:
                    raise error
                if not pending and retry:
                    log.info("%s stored after %d retries", _describe(batch), retry)
            except PUBLISH_ERRORS as err:
                retry += 1
                delay = min(0.25 * 2**retry, RETRY_DELAY_MAX)
                log.warning(
                    "%s not stored yet (%s); retry %d in %.1f s",
                    _describe(batch), type(err).__name__, retry, delay,
                )  # fmt: skip
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except TimeoutError:
                    continue
                raise Stopped from err

    async def _drop_stored(self, pending: list) -> list:
        """Catch up with the stream: drop what it holds past the last seq we know of."""
        last_seq = (await self._js.stream_info(STREAM_NAME)).state.last_seq
        if self._last_seq is not None and last_seq > self._last_seq:
            stored = await self._ids_after(self._last_seq, last_seq)
            pending = [m for m in pending if m[2][HEADER_MSG_ID] not in stored]
        self._last_seq = last_seq
        return pending

    async def _send(self, pending: list) -> tuple[list, BaseException | None]:
        """Send all, each expecting the one before it in the stream, and ack the last.

        Only the last message asks for an ack: since every message is stored only after
        its predecessor, the last one's ack vouches for all of them, and a failure
        anywhere makes the last one fail too. Returns what may not be stored yet and
        why (None once all are stored).
        """
        if not pending:
            return [], None
        last = len(pending) - 1
        try:
            for index, (subject, payload, headers) in enumerate(pending):
                headers = {**headers, HEADER_EXPECTED_LAST_SEQ: str(self._last_seq + index)}
                if index < last:
                    await self._nc.publish(subject, payload, headers=headers)
                else:
                    ack = await self._js.publish(
                        subject, payload, headers=headers, timeout=ACK_TIMEOUT
                    )
        except PUBLISH_ERRORS as err:
            return pending, err
        if ack.duplicate or ack.seq != self._last_seq + len(pending):
            self.duplicates += bool(ack.duplicate)
            return pending, OutOfStep(f"stream at seq {ack.seq}, duplicate={ack.duplicate}")
        self._last_seq = ack.seq
        return [], None


def _say_invalid(block: Block, what: str, message: tuple[str, bytes, dict[str, str]]) -> None:
    log.warning(
        "block %d: %s published on %s: %s",
        block.num, what, INVALID_SUBJECT, message[2][HEADER_PROBLEM],
    )  # fmt: skip


def _describe(batch: Batch) -> str:
    first, last = batch.blocks[0].num, batch.blocks[-1].num
    return f"block {first}" if first == last else f"blocks {first}..{last}"
