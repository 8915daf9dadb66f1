"""Subjects, stream, headers and message ids: what the broadcaster promises its consumers."""

import re

OP_SUBJECT_PREFIX = "steem.op."
VOP_SUBJECT_PREFIX = "steem.vop."
BLOCK_SUBJECT = "steem.block"
FORK_SUBJECT = "steem.fork"
INVALID_SUBJECT = "steem.invalid"

# The broadcaster is the only writer of STEEM: its batches rely on Nats-Expected-Last-
# Sequence, which a message from anyone else would break. What workers write goes to
# streams of their own.
STREAM_NAME = "STEEM"
STREAM_SUBJECTS = [
    OP_SUBJECT_PREFIX + ">",
    VOP_SUBJECT_PREFIX + ">",
    BLOCK_SUBJECT,
    FORK_SUBJECT,
    INVALID_SUBJECT,
]

# Dead letters: a message a worker gave up on, kept with the error under
# `steem.dead.<worker>`; `steem-dead replay <worker>` sends them back to that worker alone
# through `steem.replay.<worker>`, which the worker also consumes.
DEAD_STREAM_NAME = "STEEM_DEAD"
DEAD_SUBJECT_PREFIX = "steem.dead."
REPLAY_SUBJECT_PREFIX = "steem.replay."
DEAD_STREAM_SUBJECTS = [DEAD_SUBJECT_PREFIX + ">", REPLAY_SUBJECT_PREFIX + ">"]
HEADER_DEAD_SUBJECT = "Steem-Dead-Subject"  # where the message came from
HEADER_DEAD_ERROR = "Steem-Dead-Error"  # why the worker gave up
HEADER_DEAD_DELIVERIES = "Steem-Dead-Deliveries"
HEADER_DEAD_SEQ = "Steem-Dead-Seq"  # its sequence in the stream it came from
HEADER_ORIGINAL_MSG_ID = "Steem-Msg-Id"  # its Nats-Msg-Id, kept across dead letter and replay

# JetStream drops a message whose Nats-Msg-Id it has seen within the duplicate window.
HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_BLOCK_NUM = "Steem-Block-Num"
HEADER_BLOCK_ID = "Steem-Block-Id"
HEADER_TRX_ID = "Steem-Trx-Id"
HEADER_TIMESTAMP = "Steem-Timestamp"
# On `comment` operations: what the operation did to the comment, as the chain tells
# (`created`, `edited`), or `gone` when the chain no longer has the comment (deleted
# since). See ipc_config.chain.comment_state.
HEADER_COMMENT = "Steem-Comment"
COMMENT_CREATED, COMMENT_EDITED, COMMENT_GONE = "created", "edited", "gone"

_OPERATION_SUFFIX = "_operation"
# One NATS subject token: no dots, spaces or wildcards.
_SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def op_type_name(raw_name: str) -> str:
    """`comment_operation` (appbase) or `comment` (condenser) -> `comment`.

    Raises ValueError for a name that cannot be one subject token.
    """
    name = raw_name.removesuffix(_OPERATION_SUFFIX) if isinstance(raw_name, str) else ""
    if not _SUBJECT_TOKEN.match(name):
        raise ValueError(f"operation type {raw_name!r} is not a valid subject token")
    return name


def op_subject(op_type: str) -> str:
    """The subject an operation of this type is published on: `steem.op.<type>`."""
    return OP_SUBJECT_PREFIX + op_type_name(op_type)


def vop_subject(vop_type: str) -> str:
    """The subject a virtual operation of this type is published on: `steem.vop.<type>`."""
    return VOP_SUBJECT_PREFIX + op_type_name(vop_type)


def worker_name_is_valid(name: str) -> bool:
    """A worker's name names its consumers and subjects: one token, no dots or wildcards."""
    return bool(_SUBJECT_TOKEN.match(name or ""))


def dead_subject(worker: str) -> str:
    return DEAD_SUBJECT_PREFIX + worker


def replay_subject(worker: str) -> str:
    return REPLAY_SUBJECT_PREFIX + worker


def op_msg_id(block_id: str, trx_index: int, op_index: int) -> str:
    """Unique, stable id of one operation.

    Built from the block *id*, not its number: in head mode a block replaced by a fork
    reuses the number. beem's own `_id` hashes the content, so two identical operations
    (the same vote twice) would collide; positions never do.
    """
    return f"{block_id}/{trx_index}/{op_index}"


def vop_msg_id(block_id: str, index: int) -> str:
    """Unique, stable id of a block's virtual operation: the block id and its position
    (no transaction carries most of them)."""
    return f"{block_id}/v{index}"


def operation_key(msg_id: str, trx_id: str) -> str:
    """What stays the same when a fork re-includes an operation in another block: its
    transaction id and index (`<trx id>/<op index>`), for a message id of the form
    `<block id>/<trx>/<op>` with a transaction id; otherwise the message id itself
    (virtual operations, blocks, and legacy blocks without transaction ids)."""
    parts = msg_id.split("/")
    if trx_id and len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return f"{trx_id}/{parts[2]}"
    return msg_id


def block_msg_id(block_id: str) -> str:
    """Id of the `steem.block` message that closes a block."""
    return f"{block_id}/block"


# Live state of the running processes, for `steem-status`: a JetStream key-value bucket.
# Each process writes `process.<instance>` every few seconds (instance: `bot.1` under
# honcho); the broadcaster also writes its chain position under `broadcaster`.
STATUS_BUCKET = "steem_status"
STATUS_INTERVAL = 5.0  # seconds between two reports of one process
STATUS_TTL = 300.0  # a process silent this long disappears from the bucket
BROADCASTER_STATUS_KEY = "broadcaster"
PROCESS_STATUS_PREFIX = "process."


def process_status_key(instance: str) -> str:
    """Key of one process's report; the instance name made safe for a KV key."""
    return PROCESS_STATUS_PREFIX + re.sub(r"[^-_=a-zA-Z0-9.]", "_", instance)


# Actions on the chain: a worker asks (`steem.tx.request.<worker>`, Nats-Msg-Id = the
# request id), the signer signs, broadcasts and says what became of it
# (`steem.tx.included.<worker>`, `steem.tx.failed.<worker>`).
TX_STREAM_NAME = "STEEM_TX"
TX_REQUEST_PREFIX = "steem.tx.request."
TX_INCLUDED_PREFIX = "steem.tx.included."
TX_FAILED_PREFIX = "steem.tx.failed."
TX_STREAM_SUBJECTS = ["steem.tx.>"]
TX_BUCKET = "steem_tx"  # the signer's store: each request, its signed transaction, its state
HEADER_REQUEST_ID = "Steem-Request-Id"


def tx_request_subject(worker: str) -> str:
    return TX_REQUEST_PREFIX + worker


def tx_included_subject(worker: str) -> str:
    return TX_INCLUDED_PREFIX + worker


def tx_failed_subject(worker: str) -> str:
    return TX_FAILED_PREFIX + worker


# Where each worker has read the stream up to (`<worker>` keys), so that one that was down
# longer than the stream keeps messages can say what it missed.
POSITIONS_BUCKET = "steem_positions"

# Only one broadcaster publishes at a time: the one holding this lease (a key-value entry
# it renews every LEASE_TTL / 3 seconds; a standby takes over once it expires).
LEASE_BUCKET = "steem_lease"
LEASE_KEY = "broadcaster"
LEASE_TTL = 6.0
