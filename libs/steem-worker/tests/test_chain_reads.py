"""Handlers read the chain through `meta.chain`: the shared failover client on STEEM_NODES."""

import asyncio

from replay_node.archive import load_archive
from steem_testing.memory import WorkerHarness
from steem_testing.oracle import op_body, op_subject, operations
from steem_worker import Worker


def test_a_handler_reads_a_post_an_account_and_the_chain_state(replay_node):
    node = replay_node(None, "--pace", "0")
    block, _, _, op = next(
        (b, t, o, op)
        for b, t, o, op in operations(load_archive(None))
        if op_subject(op) == "steem.op.comment" and op_body(op)["parent_author"] == ""
    )
    post, seen = op_body(op), []
    worker = Worker("reader")

    @worker.on("comment")
    async def read(op, meta):
        found = await meta.chain.post(op["author"], op["permlink"])
        missing = await meta.chain.post(op["author"], "no-such-permlink")
        account = await meta.chain.account("replay-demo")
        props = await meta.chain.dynamic_global_properties()
        seen.append((found["created"], missing, account["name"], props["head_block_number"]))

    harness = WorkerHarness(worker, {"STEEM_NODES": node.url})
    assert asyncio.run(harness.op("comment", post)) == "handled"
    ((created, missing, account, head),) = seen
    assert created == block["timestamp"]
    assert missing is None
    assert account == "replay-demo"
    assert head == int(load_archive(None)[-1]["block_id"][:8], 16)
