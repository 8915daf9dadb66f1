"""{name}'s handler in memory: no NATS, no processes."""

import asyncio

from {package}.cli import worker
from steem_testing.memory import WorkerHarness

VOTE = {{"voter": "alice", "author": "bob", "permlink": "hello", "weight": 5000}}


def test_votes_at_or_above_the_minimum_are_printed(capsys):
    async def scenario():
        harness = WorkerHarness(worker, {{"{prefix}_MIN_WEIGHT": "50"}})
        return [
            await harness.op("vote", VOTE, block_num=7),
            await harness.op("vote", {{**VOTE, "weight": 4999}}, block_num=8),
            await harness.op("vote", {{"voter": "alice"}}, block_num=9),
        ]

    assert asyncio.run(scenario()) == ["handled", "handled", "dropped"]
    assert capsys.readouterr().out == "alice voted 50% on @bob/hello (block 7)\n"
