"""What the stream and the workers must hold, computed from the archive the replay node
serves, independently of the broadcaster's code.

    blocks = load_archive(None, virtual_ops=True)     # the bundled sample
    assert stored(read_stream(url)) == expected_messages(blocks)
    assert printed_urls(honcho) == expected_posts(blocks)

Blocks loaded with their virtual operations (`virtual_ops=True`) expect them on
`steem.vop.<type>`; without, none (as VIRTUAL_OPS=false publishes). What a `comment`
did (created or edited) comes from the archive alone: the first `comment` for an author
and permlink creates it, every later one edits it, whole body or patch
(`replay_node.archive.comment_operations`).
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
    HEADER_COMMENT,
    HEADER_MSG_ID,
    HEADER_TIMESTAMP,
    HEADER_TRX_ID,
)
from ipc_config.chain import block_num_of, post_url
from replay_node.archive import comment_operations

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


def vop_subject(entry: dict) -> str:
    """Where the broadcaster must publish a virtual operation of an archive."""
    return op_subject(entry["op"]).replace("steem.op.", "steem.vop.", 1)


def expected_messages(blocks: list[dict]) -> list[tuple[str, str]]:
    """(subject, Nats-Msg-Id) of everything the stream must hold, in chain order."""
    expected = []
    for block in blocks:
        for t, trx in enumerate(block["transactions"]):
            for o, op in enumerate(trx["operations"]):
                expected.append((op_subject(op), f"{block['block_id']}/{t}/{o}"))
        for v, entry in enumerate(block.get("virtual_ops", ())):
            expected.append((vop_subject(entry), f"{block['block_id']}/v{v}"))
        expected.append(("steem.block", f"{block['block_id']}/block"))
    return expected


def comment_states(
    blocks: list[dict], existing: set[tuple[str, str]] | None = None
) -> dict[str, str]:
    """Nats-Msg-Id -> `created` or `edited`: the Steem-Comment header every well-formed
    `comment` operation must carry (`existing`: the comments of the blocks before)."""
    ids = {block_num_of(b["block_id"]): b["block_id"] for b in blocks}
    return {
        f"{ids[c.block_num]}/{c.trx_in_block}/{c.op_in_trx}": (
            "edited" if c.kind == "edit" else "created"
        )
        for c in comment_operations(blocks, existing)
    }


def published_messages(blocks: Iterable[dict]) -> Iterator[tuple[str, bytes, dict[str, str]]]:
    """`(subject, payload, headers)` of what the broadcaster publishes for well-formed
    blocks, in order: each operation's body as compact JSON, the virtual operations, then
    the block's `steem.block` (a benchmark's baseline publishes these)."""
    existing: set[tuple[str, str]] = set()  # the comments the blocks so far left
    for block in blocks:
        states = comment_states([block], existing)
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
            if states.get(headers[HEADER_MSG_ID]):
                headers[HEADER_COMMENT] = states[headers[HEADER_MSG_ID]]
            yield op_subject(op), _compact(op_body(op)), headers
        vops = block.get("virtual_ops", ())
        for v, entry in enumerate(vops):
            trx_id = "" if set(entry["trx_id"]) == {"0"} else entry["trx_id"]
            headers = {HEADER_MSG_ID: f"{block_id}/v{v}", **where, HEADER_TRX_ID: trx_id}
            headers[HEADER_TIMESTAMP] = timestamp
            yield vop_subject(entry), _compact(op_body(entry["op"])), headers
        closing = {
            "block_num": block_num_of(block_id),
            "block_id": block_id,
            "previous": block["previous"],
            "timestamp": timestamp,
            "op_count": count,
            "vop_count": len(vops),
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


def new_posts(blocks: Iterable[dict]) -> Iterator[tuple[str, int]]:
    """(URL, block number) of each new post, in chain order: the `comment` operations that
    create a post (never a reply, never an edit, whole body or patch)."""
    for c in comment_operations(blocks):
        if c.kind == "post" and c.author and c.permlink:
            yield post_url(c.author, c.permlink), c.block_num


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
