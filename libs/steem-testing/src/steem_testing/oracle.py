"""What the stream and the workers must hold, computed from the archive the replay node
serves, independently of the broadcaster's code.

    blocks = load_archive(None)                       # the bundled sample
    assert stored(read_stream(url)) == expected_messages(blocks)
    assert printed_urls(honcho) == expected_posts(blocks)
"""

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from ipc_config import (
    BLOCK_SUBJECT,
    HEADER_BLOCK_ID,
    HEADER_BLOCK_NUM,
    HEADER_MSG_ID,
    HEADER_TIMESTAMP,
    HEADER_TRX_ID,
    chain,
)
from ipc_config.chain import block_num_of, post_url

OPERATION_SUFFIX = "_operation"
SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def op_subject(op: Any) -> str:
    """Where the broadcaster must publish this operation (steem.invalid if malformed)."""
    if isinstance(op, dict) and set(op) == {"type", "value"}:
        name = op["type"]
    elif isinstance(op, list) and len(op) == 2:
        name = op[0]
    else:
        return "steem.invalid"
    name = name.removesuffix(OPERATION_SUFFIX) if isinstance(name, str) else ""
    return f"steem.op.{name}" if SUBJECT_TOKEN.match(name) else "steem.invalid"


def op_body(op: Any) -> Any:
    """The payload the broadcaster must publish: the body, or the whole op if malformed."""
    if op_subject(op) == "steem.invalid":
        return op
    return op["value"] if isinstance(op, dict) else op[1]


def operations(blocks: Iterable[dict]) -> Iterator[tuple[dict, int, int, Any]]:
    """(block, trx index, op index, op) of every operation, in chain order (`blocks` may
    be read as it goes: `iter_archive(path)`)."""
    for block in blocks:
        for t, trx in enumerate(block["transactions"]):
            for o, op in enumerate(trx["operations"]):
                yield block, t, o, op


def expected_messages(blocks: list[dict]) -> list[tuple[str, str]]:
    """(subject, Nats-Msg-Id) of everything the stream must hold, in chain order."""
    expected = []
    for block in blocks:
        for t, trx in enumerate(block["transactions"]):
            for o, op in enumerate(trx["operations"]):
                expected.append((op_subject(op), f"{block['block_id']}/{t}/{o}"))
        expected.append(("steem.block", f"{block['block_id']}/block"))
    return expected


def published_messages(blocks: Iterable[dict]) -> Iterator[tuple[str, bytes, dict[str, str]]]:
    """`(subject, payload, headers)` of what the broadcaster publishes for well-formed
    blocks, in order: each operation's body as compact JSON, then the block's `steem.block`
    (a benchmark's baseline publishes these)."""
    for block in blocks:
        block_id, timestamp = block["block_id"], block["timestamp"]
        where = {HEADER_BLOCK_NUM: str(block_num_of(block_id)), HEADER_BLOCK_ID: block_id}
        count = 0
        for _, t, o, op in operations([block]):
            count += 1
            headers = {
                HEADER_MSG_ID: f"{block_id}/{t}/{o}",
                **where,
                HEADER_TRX_ID: block["transaction_ids"][t],
                HEADER_TIMESTAMP: timestamp,
            }
            yield op_subject(op), _compact(op_body(op)), headers
        closing = {
            "block_num": block_num_of(block_id),
            "block_id": block_id,
            "previous": block["previous"],
            "timestamp": timestamp,
            "op_count": count,
            "transaction_ids": block.get("transaction_ids", []),
        }
        headers = {HEADER_MSG_ID: f"{block_id}/block", **where, HEADER_TIMESTAMP: timestamp}
        yield BLOCK_SUBJECT, _compact(closing), headers


def _compact(value: Any) -> bytes:
    """Compact JSON in UTF-8, as the broadcaster writes it (escapes only where the text
    holds what UTF-8 cannot: a lone surrogate)."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()


def stored(messages) -> list[tuple[str, str]]:
    """(subject, Nats-Msg-Id) of stored messages, to compare with expected_messages."""
    return [(m.subject, m.headers.get("Nats-Msg-Id", "")) for m in messages]


def count_ops(blocks: Iterable[dict]) -> int:
    return sum(len(trx["operations"]) for block in blocks for trx in block["transactions"])


def is_new_post(op: Any) -> bool:
    """A well-formed `comment` operation that creates a post (the chain's rule:
    `ipc_config.chain.is_new_post`)."""
    body = op_body(op)
    if op_subject(op) != "steem.op.comment" or not isinstance(body, dict):
        return False
    return "parent_author" in body and chain.is_new_post(body)


def new_posts(blocks: Iterable[dict]) -> Iterator[tuple[str, int]]:
    """(URL, block number) of each new post, in chain order."""
    for block, _, _, op in operations(blocks):
        if is_new_post(op):
            body = op_body(op)
            yield post_url(body["author"], body["permlink"]), block_num_of(block["block_id"])


def expected_posts(blocks: Iterable[dict]) -> list[str]:
    """URLs the bot must print, in chain order."""
    return [url for url, _ in new_posts(blocks)]


def all_replies(blocks: list[dict]) -> set[str]:
    """URLs of every comment that is a reply (none may be printed)."""
    return {
        post_url(op_body(op)["author"], op_body(op)["permlink"])
        for _, _, _, op in operations(blocks)
        if op_subject(op) == "steem.op.comment" and op_body(op).get("parent_author")
    }


def repeats(items: list) -> int:
    """How many items repeat one seen before."""
    return sum(n - 1 for n in Counter(items).values())


def first_difference(got: list, want: list) -> str:
    """Where two long sequences part, for an assertion message that helps."""
    for i, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return f"first difference at position {i}: got {a}, expected {b}"
    if len(got) != len(want):
        shorter = "got" if len(got) < len(want) else "expected"
        extra = (want if shorter == "got" else got)[min(len(got), len(want)) :][:3]
        return f"{len(got)} messages, {len(want)} expected; {shorter} lacks {extra}..."
    return "identical"
