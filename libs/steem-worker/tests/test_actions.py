"""Asking for actions: the builders, the request ids, storage before the handler returns,
and the outcomes coming back to the worker that asked."""

import asyncio
import json

import pytest
from steem_testing.jetstream import publish, serve_until, with_js
from steem_testing.memory import WorkerHarness
from steem_testing.messages import op_headers, op_message
from steem_worker import Worker
from steem_worker.actions import comment, comment_options, custom_json, transfer, vote


def test_the_builders_make_condenser_operations_with_their_signing_account():
    assert vote("myself", "bob", "hello-world", 50).operation == [
        "vote",
        {"voter": "myself", "author": "bob", "permlink": "hello-world", "weight": 5000},
    ]
    assert transfer("myself", "bob", "1.000 STEEM", "thanks").authority == "active"
    reply = comment("myself", "re-hello", "nice", parent_author="bob", parent_permlink="hello")
    assert (reply.account, reply.body["parent_author"]) == ("myself", "bob")
    assert comment_options("myself", "my-post").body["max_accepted_payout"] == "1000000.000 SBD"
    follow = custom_json(
        "follow", ["follow", {"what": ["blog"]}], required_posting_auths=("myself",)
    )
    assert (follow.account, follow.authority, follow.body["json"]) == (
        "myself",
        "posting",
        '["follow", {"what": ["blog"]}]',
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: vote("Me", "bob", "p"),
        lambda: vote("myself", "bob", "p", 101),
        lambda: vote("myself", "bob", "Bad Permlink"),
        lambda: transfer("myself", "bob", "1 STEEM"),
        lambda: transfer("myself", "bob", "1.000 VESTS"),
        lambda: custom_json("x", {}),
    ],
)
def test_a_malformed_action_is_refused_before_anything_is_asked(build):
    with pytest.raises(ValueError):
        build()


def asking_worker(deliveries: list | None = None) -> Worker:
    worker = Worker("voter")

    @worker.on("comment")
    async def upvote(op, meta):
        if deliveries is not None:
            deliveries.append(meta.delivery)
        await meta.act(vote("myself", op["author"], op["permlink"], 100))
        await meta.act(vote("myself", op["author"], op["permlink"], 50))
        if op.get("fail") and meta.delivery == 1:
            raise RuntimeError("after asking")

    return worker


def test_request_ids_come_from_the_transaction_and_operation_and_repeat_on_a_rerun():
    async def scenario():
        harness = WorkerHarness(asking_worker())
        post = {"author": "bob", "permlink": "hello"}
        await harness.op("comment", post, block_num=9, trx_index=2, op_index=1)
        await harness.op("comment", post, block_num=9, trx_index=2, op_index=1, delivery=2)
        return harness.requests

    requests = asyncio.run(scenario())
    trx_id = op_headers(9, 2, 1)["Steem-Trx-Id"]
    assert [r["id"] for r in requests] == [f"voter/{trx_id}/1/0", f"voter/{trx_id}/1/1"] * 2
    first = requests[0]
    assert (first["account"], first["authority"], first["worker"]) == ("myself", "posting", "voter")
    assert first["operations"] == [
        ["vote", {"voter": "myself", "author": "bob", "permlink": "hello", "weight": 10000}]
    ]


def test_a_request_is_stored_once_although_a_retried_handler_asks_again(settings):
    """The handler asks, then fails; retried, it asks again with the same ids, and the
    stream keeps each request once."""

    async def scenario():
        s = settings(WORKER_RETRY_DELAY="0.1")
        post = op_message("comment", {"author": "bob", "permlink": "hello", "fail": 1}, 4)
        await publish(s, [post])
        deliveries: list[int] = []
        worker, done = asking_worker(deliveries), []

        @worker.on_included
        async def included(outcome, meta):
            done.append(outcome["block_num"])

        async def stored_requests():
            info = await with_js(s, lambda js: js.stream_info("STEEM_TX"))
            return info.state.messages

        async def asked_twice_then_included():
            if await stored_requests() == 2 and not done:
                outcome = {"id": "voter/x/0/0", "block_num": 5}
                await publish(s, [("steem.tx.included.voter", json.dumps(outcome).encode(), {})])
            if not done:
                return False
            consumer = await with_js(s, lambda js: js.consumer_info("STEEM", "voter"))
            return consumer.ack_floor.stream_seq == 1

        await serve_until(worker, s, asked_twice_then_included, timeout=20)
        return await stored_requests(), done, deliveries

    stored, done, deliveries = asyncio.run(scenario())
    assert deliveries == [1, 2]
    assert stored == 3, "two requests, then the outcome: the retry stored no second copy"
    assert done == [5]
