"""{name} end to end: nats-server, the replay node (the bundled sample), the broadcaster."""

from ipc_config.chain import block_num_of
from steem_testing.oracle import op_body, op_subject, operations
from steem_testing.waiting import wait_until


def test_every_upvote_of_the_sample_is_printed_once_in_order(pipeline):
    chain = pipeline()  # the real processes, on free ports; all stopped after the test
    expected = [
        f"{{v['voter']}} voted {{v['weight'] / 100:g}}% on @{{v['author']}}/{{v['permlink']}}"
        f" (block {{block_num_of(block['block_id'])}})"
        for block, _, _, op in operations(chain.blocks)
        if op_subject(op) == "steem.op.vote" and (v := op_body(op))["weight"] >= 0
    ]
    worker = chain.worker("{name}")  # {prefix}_MIN_WEIGHT is 0: every upvote
    wait_until(lambda: len(worker.stdout.lines) >= len(expected), 60, "every upvote printed")
    assert worker.stdout.lines == expected
