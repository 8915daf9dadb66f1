"""Synthetic archives: deterministic, contiguous, realistic, unique new posts."""

from __future__ import annotations

import calendar
import collections
import re
import time

from replay_node.archive import load_archive, new_posts
from replay_node.generate import generate_archive


def test_generate_is_deterministic_for_a_seed(tmp_path):
    a = generate_archive(tmp_path / "a.jsonl.gz", 80, 1000, seed=5)
    b = generate_archive(tmp_path / "b.jsonl.gz", 80, 1000, seed=5)
    generate_archive(tmp_path / "c.jsonl.gz", 80, 1000, seed=6)
    assert a == b
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()
    assert (tmp_path / "a.jsonl.gz").read_bytes() != (tmp_path / "c.jsonl.gz").read_bytes()
    assert a["blocks"] == 80 and a["first"] == 1000 and a["last"] == 1079


def test_generated_blocks_are_linked_realistic_and_posts_unique(tmp_path):
    summary = generate_archive(tmp_path / "g.jsonl", 500, 7_000_000, seed=1, posts_per_block=2)
    blocks = load_archive(tmp_path / "g.jsonl")  # checks links and contiguity
    assert [int(b["block_id"][:8], 16) for b in blocks] == list(range(7_000_000, 7_000_500))
    times = [calendar.timegm(time.strptime(b["timestamp"], "%Y-%m-%dT%H:%M:%S")) for b in blocks]
    assert {t2 - t1 for t1, t2 in zip(times, times[1:], strict=False)} == {3}

    types: collections.Counter[str] = collections.Counter()
    roots = replies = 0
    for b in blocks:
        assert len(b["transaction_ids"]) == len(b["transactions"])
        assert all(re.fullmatch("[0-9a-f]{40}", t) for t in b["transaction_ids"])
        ops = [op for tx in b["transactions"] for op in tx["operations"]]
        assert 2 <= len(ops) <= 64
        for op in ops:
            types[op["type"]] += 1
            if op["type"] == "comment_operation":
                if op["value"]["parent_author"] == "":
                    roots += 1
                else:
                    replies += 1
        for tx in b["transactions"]:
            assert set(tx) == {
                "ref_block_num",
                "ref_block_prefix",
                "expiration",
                "operations",
                "extensions",
                "signatures",
            }
    ranked = [t for t, _ in types.most_common()]
    assert ranked[0] == "vote_operation"
    assert set(ranked[:3]) == {"vote_operation", "comment_operation", "custom_json_operation"}
    assert types["transfer_operation"] > 0 and len(types) > 10
    assert roots == 1000 and replies > 100
    posts = new_posts(blocks)
    assert len(posts) == len(set(posts)) == roots == summary["new_posts"]
    assert sum(types.values()) == summary["ops"]


def test_generate_command(replay_cli, tmp_path):
    out = tmp_path / "cli.jsonl.gz"
    proc = replay_cli("generate", "--blocks", "50", "--start", "20", "--seed", "3", "--out", out)
    assert proc.wait(30) == 0, proc.stderr.lines
    assert re.search(r"wrote 50 blocks 20\.\.69", proc.stderr.lines[-1])
    blocks = load_archive(out)
    assert len(blocks) == 50

    listing = replay_cli("posts", out)
    assert listing.wait(30) == 0
    assert listing.stdout.text().split() == new_posts(blocks)
