"""What a fetched block carries besides its operations, from a real replay node: its
virtual operations (in the same JSON-RPC batch) and what each comment did."""

from pathlib import Path

import pytest
from replay_node.archive import load_archive
from replay_node.generate import generate_archive
from steem_chain.node import Extras, NodeClient
from steem_testing.oracle import comment_states, vop_subject

FIRST, COUNT = 9_000_000, 60


@pytest.fixture(scope="module")
def edited_chain(tmp_path_factory) -> Path:
    """Posts, replies and edits, one edit in five resending the whole body; rewards."""
    path = tmp_path_factory.mktemp("edits") / "chain.jsonl"
    generate_archive(
        path, count=COUNT, start=FIRST, seed=3, edits_per_block=1.0, whole_body_edits=0.2,
        payout_blocks=10,
    )  # fmt: skip
    return path


def test_blocks_carry_their_virtual_operations_and_what_each_comment_did(edited_chain, replay_node):
    node = replay_node(edited_chain, "--pace", "0")
    blocks = NodeClient(node.url, 10, extras=Extras(True, True)).blocks(FIRST, FIRST + COUNT - 1)
    archive = load_archive(edited_chain, virtual_ops=True)

    got_vops = [(b.num, f"steem.vop.{v.type}", v.index) for b in blocks for v in b.virtual_ops]
    want_vops = [
        (FIRST + n, vop_subject(entry), i)
        for n, block in enumerate(archive)
        for i, entry in enumerate(block["virtual_ops"])
    ]
    assert got_vops == want_vops
    assert {s for _, s, _ in got_vops} >= {"steem.vop.producer_reward", "steem.vop.author_reward"}

    got_states = {
        f"{b.id}/{op.trx_index}/{op.op_index}": op.comment
        for b in blocks
        for op in b.operations
        if op.comment is not None
    }
    want = comment_states(archive)
    assert got_states == want
    assert "edited" in want.values() and "created" in want.values()


def test_without_extras_a_block_is_its_operations_alone(edited_chain, replay_node):
    node = replay_node(edited_chain, "--pace", "0")
    (block,) = NodeClient(node.url, 10).blocks(FIRST, FIRST)
    assert block.virtual_ops == () and all(op.comment is None for op in block.operations)
