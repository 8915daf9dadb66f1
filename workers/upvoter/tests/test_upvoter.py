"""The upvoter's handlers in memory (WorkerHarness): what it asks the signer for, what it
prints, and its settings."""

import asyncio

import pytest
from ipc_config import ConfigError
from steem_testing.memory import WorkerHarness
from steem_worker import Idle
from upvoter.cli import worker
from upvoter.settings import UpvoteSettings

POST = {"parent_author": "", "parent_permlink": "steem", "author": "alice", "permlink": "hello",
        "title": "Hello", "body": "first post", "json_metadata": "{}"}  # fmt: skip
REPLY = {**POST, "parent_author": "bob", "parent_permlink": "hello", "permlink": "re-hello"}
EDIT = {**POST, "body": "@@ -1,5 +1,6 @@\n first post"}


def run(env: dict[str, str], *ops: dict) -> WorkerHarness:
    harness = WorkerHarness(worker, env)

    async def scenario():
        await harness.start()
        for n, op in enumerate(ops):
            await harness.op("comment", op, block_num=10 + n)

    asyncio.run(scenario())
    return harness


def test_a_new_post_of_a_chosen_author_is_voted_once_at_the_weight():
    harness = run({"UPVOTE_ACCOUNT": "myself", "UPVOTE_AUTHORS": "alice,carol", "UPVOTE_WEIGHT": "50"},
                  POST, REPLY, EDIT, {**POST, "author": "dave", "permlink": "other"})  # fmt: skip
    (request,) = harness.requests
    assert request["account"] == "myself" and request["worker"] == "upvoter"
    assert request["operations"] == [
        ["vote", {"voter": "myself", "author": "alice", "permlink": "hello", "weight": 5000}]
    ]


def test_a_star_votes_every_new_post_at_full_weight():
    harness = run({"UPVOTE_ACCOUNT": "myself", "UPVOTE_AUTHORS": "*"},
                  POST, {**POST, "author": "dave", "permlink": "other"}, REPLY)  # fmt: skip
    assert [r["operations"][0][1]["author"] for r in harness.requests] == ["alice", "dave"]
    assert {r["operations"][0][1]["weight"] for r in harness.requests} == {10000}


def test_a_redelivered_post_asks_for_the_same_request():
    harness = WorkerHarness(worker, {"UPVOTE_ACCOUNT": "myself", "UPVOTE_AUTHORS": "*"})

    async def twice():
        await harness.op("comment", POST, block_num=7)
        await harness.op("comment", POST, block_num=7, delivery=2)

    asyncio.run(twice())
    first, again = harness.requests
    assert first["id"] == again["id"]


def test_an_included_vote_is_printed_and_a_failed_one_logged(capsys, caplog):
    harness = WorkerHarness(worker, {"UPVOTE_ACCOUNT": "myself", "UPVOTE_AUTHORS": "*"})
    vote = ["vote", {"voter": "myself", "author": "alice", "permlink": "hello", "weight": 10000}]
    included = {"id": "upvoter/x/0/0", "account": "myself", "operations": [vote],
                "trx_id": "ab" * 20, "block_num": 3286800}  # fmt: skip
    failed = {"id": "upvoter/y/0/0", "account": "myself", "operations": [vote],
              "reason": "Your current vote on this comment is identical to this vote."}  # fmt: skip

    async def outcomes():
        assert await harness.send("steem.tx.included.upvoter", included, {}) == "handled"
        assert await harness.send("steem.tx.failed.upvoter", failed, {}) == "handled"

    asyncio.run(outcomes())
    assert capsys.readouterr().out == "voted @alice/hello in block 3286800\n"
    assert "vote on @alice/hello failed: Your current vote" in caplog.text


def test_without_an_account_it_idles_and_without_authors_it_refuses():
    with pytest.raises(Idle, match="UPVOTE_ACCOUNT is not set"):
        asyncio.run(WorkerHarness(worker, {}).start())
    with pytest.raises(ConfigError, match="^UPVOTE_AUTHORS is not set"):
        UpvoteSettings.from_env({"UPVOTE_ACCOUNT": "myself"})
    with pytest.raises(ConfigError, match="^UPVOTE_AUTHORS: 'Bob' is not a Steem account"):
        UpvoteSettings.from_env({"UPVOTE_ACCOUNT": "myself", "UPVOTE_AUTHORS": "alice,Bob"})
    with pytest.raises(ConfigError, match="^UPVOTE_WEIGHT="):
        UpvoteSettings.from_env(
            {"UPVOTE_ACCOUNT": "myself", "UPVOTE_AUTHORS": "*", "UPVOTE_WEIGHT": "0"}
        )
