"""{name} end to end: nats-server, the replay node (the bundled sample), the broadcaster."""

from steem_testing.oracle import operations, op_body, op_subject
from steem_testing.waiting import wait_until


def test_every_vote_of_the_sample_is_printed_once_in_order(pipeline):
    chain = pipeline()  # the real processes, on free ports; all stopped after the test
    votes = [
        (op_body(op), int(block["block_id"][:8], 16))
        for block, _, _, op in operations(chain.blocks)
        if op_subject(op) == "steem.op.vote"
    ]
    expected = [
        f"{{v['voter']}} voted {{v['weight'] / 100:g}}% on @{{v['author']}}/{{v['permlink']}}"
        f" (block {{num}})"
        for v, num in votes
    ]
    worker = chain.worker("{name}")
    wait_until(lambda: len(worker.stdout.lines) >= len(expected), 60, "every vote printed")
    assert worker.stdout.lines == expected
