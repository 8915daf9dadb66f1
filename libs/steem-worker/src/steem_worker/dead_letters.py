"""Dead letters: the messages a worker gave up on, kept with the error, and sent back.

    subject, payload, headers = dead_letter(msg, "bot", "steem.op.comment", "KeyError: 'x'", 5)
    letters = await read_letters(js, "bot")        # what is kept, oldest first
    sent = await replay_letters(js, "bot")         # back to the bot alone, then removed

A dead letter is the message itself (payload and headers) on `steem.dead.<worker>` in the
stream STEEM_DEAD, with the subject it came from, the error and the number of attempts.
Replaying publishes it to `steem.replay.<worker>`, which only that worker consumes (its
other consumers never see it again), and then deletes the letter.
"""

import re
from dataclasses import dataclass

import nats.js.errors
from ipc_config import (
    DEAD_STREAM_NAME,
    HEADER_DEAD_DELIVERIES,
    HEADER_DEAD_ERROR,
    HEADER_DEAD_SEQ,
    HEADER_DEAD_SUBJECT,
    HEADER_MSG_ID,
    HEADER_ORIGINAL_MSG_ID,
    dead_subject,
    replay_subject,
)
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from steem_worker.delivery import message_id

_ERROR_ROOM = 1000  # characters of the error kept in its header
_LINE_BREAKS = re.compile(r"[\r\n]+")  # a header value is one line


def dead_letter(
    msg: Msg, worker: str, subject: str, error: str, deliveries: int
) -> tuple[str, bytes, dict[str, str]]:
    """Subject, payload and headers of the dead letter of `msg`, taken from `subject`."""
    original_id = message_id(msg)
    seq = msg.metadata.sequence.stream
    headers = {k: v for k, v in (msg.headers or {}).items() if k != HEADER_MSG_ID}
    headers.update({
        HEADER_DEAD_SUBJECT: subject,
        HEADER_DEAD_ERROR: _LINE_BREAKS.sub(" ", error)[:_ERROR_ROOM] or "unknown",
        HEADER_DEAD_DELIVERIES: str(deliveries),
        HEADER_DEAD_SEQ: str(seq),
        HEADER_ORIGINAL_MSG_ID: original_id,
        # One letter per message given up: a redelivery of it (its term lost) is the same
        # letter, a replayed letter given up again (another stream, another sequence) a new one.
        HEADER_MSG_ID: f"dead/{worker}/{msg.metadata.stream}/{seq}",
    })  # fmt: skip
    return dead_subject(worker), msg.data, headers


@dataclass(frozen=True)
class Letter:
    """One kept dead letter, as `steem-dead list` shows it."""

    seq: int  # in STEEM_DEAD
    worker: str
    subject: str  # where it came from
    msg_id: str
    error: str
    deliveries: int
    data: bytes
    headers: dict[str, str]


async def read_letters(js: JetStreamContext, worker: str | None = None) -> list[Letter]:
    """The dead letters of `worker` (of every worker if None), oldest first."""
    wanted = dead_subject(worker) if worker else dead_subject("*")
    letters: list[Letter] = []
    seq = 1
    while True:
        try:
            msg = await js.get_msg(DEAD_STREAM_NAME, seq, subject=wanted, next=True)
        except nats.js.errors.NotFoundError:
            return letters
        headers = dict(msg.headers or {})
        letters.append(
            Letter(
                seq=msg.seq,
                worker=msg.subject.rsplit(".", 1)[-1],
                subject=headers.get(HEADER_DEAD_SUBJECT, ""),
                msg_id=headers.get(HEADER_ORIGINAL_MSG_ID, ""),
                error=headers.get(HEADER_DEAD_ERROR, ""),
                deliveries=int(headers.get(HEADER_DEAD_DELIVERIES, "0") or 0),
                data=msg.data or b"",
                headers=headers,
            )
        )
        seq = msg.seq + 1


async def replay_letters(
    js: JetStreamContext, worker: str, seqs: set[int] | None = None
) -> list[Letter]:
    """Send `worker`'s dead letters (those of `seqs`, or all) back to it; returns them.

    Each is published to `steem.replay.<worker>` (its Nats-Msg-Id made from the letter's
    sequence, so a replay repeated within the duplicate window is not stored twice), then
    deleted from the dead letters.
    """
    sent = []
    for letter in await read_letters(js, worker):
        if seqs is not None and letter.seq not in seqs:
            continue
        headers = {**letter.headers, HEADER_MSG_ID: f"replay/{worker}/{letter.seq}"}
        await js.publish(replay_subject(worker), letter.data, headers=headers)
        await js.delete_msg(DEAD_STREAM_NAME, letter.seq)
        sent.append(letter)
    return sent
