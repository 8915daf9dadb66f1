"""The transfer watcher's handler, in memory."""

import asyncio

from steem_testing.memory import WorkerHarness
from transfer_watcher.cli import worker

TRANSFER = {"from": "alice", "to": "bob", "amount": "12.500 STEEM", "memo": "hi"}


def test_only_watched_transfers_are_printed(capsys):
    async def scenario():
        harness = WorkerHarness(worker, {"WATCH_ACCOUNTS": "bob", "WATCH_MIN_AMOUNT": "10"})
        return [
            await harness.op("transfer", TRANSFER, block_num=5),
            await harness.op("transfer", {**TRANSFER, "to": "carol"}, block_num=6),
            await harness.op("transfer", {**TRANSFER, "amount": "9.999 STEEM"}, block_num=7),
            await harness.op("transfer", {"from": "alice"}, block_num=8),
        ]

    assert asyncio.run(scenario()) == ["handled", "handled", "handled", "dropped"]
    assert capsys.readouterr().out == 'transfer 12.500 STEEM alice -> bob "hi" (block 5)\n'
