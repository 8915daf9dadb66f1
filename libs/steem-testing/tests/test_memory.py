"""The in-memory harness answers what the real worker would do, outcome by outcome."""

import asyncio

from steem_testing.memory import WorkerHarness
from steem_worker import Drop, Retry, Worker


def make_worker() -> tuple[Worker, list]:
    worker, seen = Worker("tester", max_deliver=3), []

    @worker.on("comment", when=lambda op: op.get("parent_author") == "")
    async def posts(op, meta):
        if "author" not in op:
            raise Drop("no author")
        if op.get("later"):
            raise Retry(30, "not yet")
        if op.get("bug"):
            op["missing"]  # noqa: B018 - a bug in handler code
        seen.append((op["author"], meta.block_num, meta.settings.log_level))

    @worker.on_block
    async def blocks(body, meta):
        seen.append(("block", body["block_num"], meta.block_num))

    return worker, seen


def test_each_outcome_of_a_handler():
    async def scenario():
        worker, seen = make_worker()
        harness = WorkerHarness(worker, {"LOG_LEVEL": "DEBUG"})
        outcomes = [
            await harness.op("comment", {"parent_author": "", "author": "ann"}, block_num=7),
            await harness.op("comment", {"parent_author": "bob", "author": "ann"}),
            await harness.op("comment", {"parent_author": ""}),
            await harness.op("comment", {"parent_author": "", "author": "a", "later": 1}),
            await harness.op("comment", {"parent_author": "", "author": "a", "bug": 1}),
            await harness.op("comment", {"parent_author": "", "bug": 1, "author": "a"}, delivery=3),
            await harness.send("steem.op.comment", b"not json", {}),
            await harness.block({"block_num": 9}),
        ]
        return outcomes, seen, harness.dead_letters

    outcomes, seen, letters = asyncio.run(scenario())
    assert outcomes == [
        "handled", "skipped", "dropped", "retry", "retry", "dead", "dead", "handled"
    ]  # fmt: skip
    assert seen == [("ann", 7, 10), ("block", 9, 9)]
    assert [headers["Steem-Dead-Error"] for _, _, headers in letters] == [
        "KeyError: 'missing'",
        "malformed message: Expecting value: line 1 column 1 (char 0)",
    ]
