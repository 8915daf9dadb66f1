"""Build the bundled sample archive from the mainnet fixtures.

    cd /work/main && uv run python tools/replay-node/scripts/make_sample.py

Reads ``tests/fixtures/mainnet/`` and writes
``tools/replay-node/src/replay_node/data/sample.jsonl.gz``: 400 contiguous blocks
3286700..3287099 that contain, unchanged, the real block 3286849 (its neighbours' ids
link to its real ``previous`` and ``block_id``), the transactions of the other real
blocks (5771683, 6531076, condenser 4000001) and every real transaction of
``steem-transactions/condenser/*.json``, each transplanted verbatim into a synthetic
block of that range; the rest is synthetic (see ``replay_node.generate``). Every block
carries virtual operations in the shapes of steemd (``replay_node.virtual_ops``): its
producer reward, payouts of the synthetic posts 100 blocks after them (curation and author
rewards; no beneficiaries, which Steem added in 2017) and some vesting withdrawals. Some
synthetic posts are edited later, half of the edits resending the whole body (the real
blocks hold two patch edits).

Data problems in the fixture files are handled here and reported on stderr:
``convert.json`` is a Python literal (single quotes) -> parsed with ``ast.literal_eval``;
``custom.json`` / ``custom_json.json`` have the inner ``json`` string unescaped ->
repaired by re-joining the fragments; ``account_update.json`` and
``change_recovery_account.json`` hold the same bare ``change_recovery_account``
operation body and no transaction -> wrapped once in a synthetic transaction;
duplicate transactions (``limit_order_cancel.json`` = ``limit_order_create.json``,
``transaction.json`` = the 4 transactions of block 4000001) are included once.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

from replay_node.archive import comment_operations, iter_archive, new_posts, write_archive
from replay_node.blocks import VIRTUAL_OPS, canonical_json, normalize_block, synthetic_tx_id
from replay_node.factory import BlockFactory, synthetic_block_id
from replay_node.shapes import to_appbase, tx_to_appbase
from replay_node.templates import Templates

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "mainnet"
OUT = Path(__file__).resolve().parents[1] / "src" / "replay_node" / "data" / "sample.jsonl.gz"

FIRST, LAST = 3286700, 3287099
ANCHOR = 3286849  # the real block kept unchanged at its own number
SEED = 3286849
POSTS_PER_BLOCK = 1.0
PAYOUT_BLOCKS = 100  # a post's rewards come this many blocks after it (7 days on mainnet)
# Edits of earlier synthetic posts: half of them resend the whole body, as condenser does
# when a patch would not be shorter (and bots do always): only the chain tells them from
# new posts.
EDITS_PER_BLOCK = 0.3
WHOLE_BODY_EDITS = 0.5
# where the transactions of the other real blocks go (kept together, one block each)
PLACE_BLOCKS = {5771683: 3286900, 6531076: 3286950, 4000001: 3287000}
SINGLES_FROM, SINGLES_STEP = 3286705, 11  # transplanted single transactions


def note(msg: str) -> None:
    print(f"make_sample: {msg}", file=sys.stderr)


def _repair_unescaped_json(text: str) -> str:
    """Repair a ``"json": "{"  follower  ":" ...`` value whose inner quotes were lost:
    the fragments between the broken quotes are re-joined into one escaped string."""
    m = re.search(r'("json":\s*)(".*?)(\n\s*}\s*\n\s*]\s*\n\s*])', text, re.S)
    if m is None:
        raise ValueError("no json field to repair")
    inner = "".join(part.strip() for part in m.group(2).split("\n"))
    # inner is now like "{"follower":"steemit",...}" including the outer quotes
    return text[: m.start(2)] + json.dumps(inner[1:-1]) + text[m.end(2) :]


def read_transactions(path: Path) -> list[dict]:
    text = path.read_text()
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = ast.literal_eval(text)
            note(f"{path.name}: Python literal, parsed with ast.literal_eval")
        except (ValueError, SyntaxError):
            data = json.loads(_repair_unescaped_json(text))
            note(f"{path.name}: repaired unescaped inner json string")
    txs = data if isinstance(data, list) else [data]
    out = []
    for tx in txs:
        if "operations" in tx:
            out.append(tx)
        elif set(tx) == {"account_to_recover", "new_recovery_account", "extensions"}:
            note(f"{path.name}: bare change_recovery_account op body, wrapped in a transaction")
            out.append({"operations": [["change_recovery_account", tx]], "_wrap": True})
        else:
            note(f"{path.name}: not a transaction, skipped")
    return out


def main() -> int:
    real_appbase = {}
    for p in sorted((FIXTURES / "steem-blocks" / "appbase").glob("*.json")):
        real_appbase[int(p.stem)] = json.loads(p.read_text())["result"]["block"]
    real_condenser = {}
    for p in sorted((FIXTURES / "steem-blocks" / "condenser").glob("*.json")):
        real_condenser[int(p.stem)] = json.loads(p.read_text())
    anchor = real_appbase[ANCHOR]

    # transactions of the other real blocks (appbase shape, with their ids)
    placed: dict[int, tuple[list, list]] = {}
    for num, block in list(real_appbase.items()) + list(real_condenser.items()):
        if num == ANCHOR:
            continue
        nb = normalize_block(block)  # keeps real ids, synthesises missing ones
        placed[PLACE_BLOCKS[num]] = (nb["transactions"], nb["transaction_ids"])

    # single transactions, deduplicated against each other and the real blocks
    seen = set()
    for block in list(real_appbase.values()) + list(real_condenser.values()):
        for tx in to_appbase(block)["transactions"]:
            seen.add(canonical_json(tx))
    singles: list[tuple[str, dict]] = []
    wrapped_once = False
    for p in sorted((FIXTURES / "steem-transactions" / "condenser").glob("*.json")):
        for tx in read_transactions(p):
            if tx.pop("_wrap", False):
                if wrapped_once:
                    note(f"{p.name}: same op body as before, skipped")
                    continue
                wrapped_once = True
                singles.append(("wrap", tx))
                continue
            key = canonical_json(tx_to_appbase(tx))
            if key in seen:
                note(f"{p.name}: duplicate transaction, included once")
                continue
            seen.add(key)
            singles.append((p.name, tx))

    # templates: every real operation
    real_blocks = [to_appbase(b) for b in real_appbase.values()]
    real_blocks += [to_appbase(b) for b in real_condenser.values()]
    real_blocks.append({"transactions": [tx_to_appbase(tx) for _, tx in singles]})
    templates = Templates(real_blocks)

    reserved = set()
    for b in real_blocks:
        for tx in b["transactions"]:
            for op in tx["operations"]:
                if op["type"] == "comment_operation" and op["value"]["parent_author"] == "":
                    v = op["value"]
                    if (v["author"], v["permlink"]) in reserved:
                        note(f"real edit: @{v['author']}/{v['permlink']} repeats")
                    reserved.add((v["author"], v["permlink"]))
    factory = BlockFactory(
        templates,
        SEED,
        POSTS_PER_BLOCK,
        reserved_posts=reserved,
        virtual_ops=True,
        payout_blocks=PAYOUT_BLOCKS,
        edits_per_block=EDITS_PER_BLOCK,
        whole_body_edits=WHOLE_BODY_EDITS,
    )

    anchor_epoch = _epoch(anchor["timestamp"])
    single_at = {SINGLES_FROM + SINGLES_STEP * i: s for i, s in enumerate(singles)}
    assert max(single_at) < LAST and not set(single_at) & (set(placed) | {ANCHOR})

    blocks = []
    previous = synthetic_block_id(FIRST - 1, SEED)
    for num in range(FIRST, LAST + 1):
        epoch = anchor_epoch + 3 * (num - ANCHOR)
        if num == ANCHOR:
            assert anchor["previous"] == previous
            factory.block_ids[num] = anchor["block_id"]
            blocks.append(anchor)
            previous = anchor["block_id"]
            continue
        block_id = anchor["previous"] if num == ANCHOR - 1 else None
        if num in placed:
            txs, ids = placed[num]
            block = factory.block(num, previous, epoch, list(txs), list(ids), block_id)
        else:
            txs = factory.transactions(num, epoch)
            ids = None
            if num in single_at:
                name, tx = single_at[num]
                real = tx_to_appbase(tx)
                if name == "wrap":  # real op body, synthetic envelope
                    real = factory.envelope(real["operations"], num, epoch)
                    real_id = None
                else:
                    real_id = synthetic_tx_id(tx)
                pos = factory.rng.randint(0, len(txs))
                txs.insert(pos, real)
                block = factory.block(num, previous, epoch, txs, None, block_id)
                if real_id is not None:
                    block["transaction_ids"][pos] = real_id
            else:
                block = factory.block(num, previous, epoch, txs, ids, block_id)
        blocks.append(block)
        previous = block["block_id"]

    records = [
        dict(b, **{VIRTUAL_OPS: factory.vops.for_block(n, b["witness"])})
        for n, b in zip(range(FIRST, LAST + 1), blocks, strict=True)
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_archive(records, OUT)

    # verify what we wrote
    loaded = list(iter_archive(OUT))
    assert loaded[ANCHOR - FIRST] == anchor, "anchor block changed"
    posts = new_posts(loaded)
    assert len(posts) == len(set(posts)), "new posts are not unique"
    edits = [c for c in comment_operations(loaded) if c.kind == "edit"]
    ops = sum(len(tx["operations"]) for b in loaded for tx in b["transactions"])
    txs = sum(len(b["transactions"]) for b in loaded)
    vops = sum(len(b[VIRTUAL_OPS]) for b in iter_archive(OUT, virtual_ops=True))
    note(
        f"wrote {OUT.relative_to(ROOT)}: {len(loaded)} blocks {FIRST}..{LAST}, "
        f"{txs} transactions, {ops} operations, {len(posts)} new posts, {len(edits)} edits, "
        f"{vops} virtual operations, {OUT.stat().st_size} bytes"
    )
    return 0


def _epoch(ts: str) -> int:
    import calendar
    import time

    return calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%S"))


if __name__ == "__main__":
    sys.exit(main())
