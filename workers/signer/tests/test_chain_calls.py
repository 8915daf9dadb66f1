"""Signing, broadcasting and judging against the test chain over HTTP: the transaction id
we compute is the node's, steemd's refusals get the verdicts the signer acts on, and a
transaction is found in its block, or certainly in none once expired."""

import asyncio
import time

import pytest
from signer.keys import Key
from signer.node import NOT_INCLUDED, UNDECIDED, Nodes
from signer.rejections import (
    ACCEPTED,
    DUPLICATE,
    EXPIRED,
    PERMANENT,
    RC,
    TAPOS,
    TOO_EARLY,
    Verdict,
    judge,
)
from signer.transactions import RefBlock, chain_timestamp, sign_transaction

FAST = ("--pace", "0.1", "--start-blocks", "60", "--irreversible-lag", "2", "--keep-producing")


def vote_on(post: tuple[str, str], weight: int = 10000, voter: str = "replay-demo") -> list:
    return [["vote", {"voter": voter, "author": post[0], "permlink": post[1], "weight": weight}]]


async def send(nodes: Nodes, operations: list, key: Key, expires_in: int = 60, ref=None):
    head = await nodes.head()
    ref = ref or await nodes.ref_block(head.irreversible)
    signed = sign_transaction(operations, ref, chain_timestamp(head.time + expires_in), key)
    sent = await nodes.broadcast(signed.trx)
    error = sent.answer.get("error")
    return signed, (Verdict(ACCEPTED, "") if error is None else judge(error)), head


async def next_block(nodes: Nodes, after: int) -> None:
    while (await nodes.head()).num <= after:
        await asyncio.sleep(0.05)


def test_a_signed_vote_is_taken_under_our_id_and_found_in_its_block(replay_node, acting):
    node = replay_node(None, *FAST)
    post = acting.sample_posts(1)[0]

    async def scenario():
        nodes = Nodes((node.url,), timeout=5)
        key = Key(acting.DEMO_WIF, 1)
        signed, first, head = await send(nodes, vote_on(post), key)
        again = judge((await nodes.broadcast(signed.trx)).answer["error"])
        # Once an irreversible block is past its expiration, the node's answer is final.
        last = head.num + 21
        while (await nodes.head()).irreversible < last:
            await asyncio.sleep(0.1)
        found = await nodes.inclusion(signed.trx_id, signed.expiration, head.num - 2, last)
        nodes._find_offered = False  # as on a node without transaction_status_api
        scanned = await nodes.inclusion(signed.trx_id, signed.expiration, head.num - 2, last)
        nodes.close()
        taken = acting.chain_transactions(node.url)["transactions"]
        return signed, first, again, taken, found, scanned

    signed, first, again, taken, found, scanned = asyncio.run(scenario())
    assert (first.kind, again.kind) == (ACCEPTED, DUPLICATE)
    (trx,) = taken
    assert trx["trx_id"] == signed.trx_id, "the node computes the id we computed"
    assert found == scanned == trx["block_num"] > 0


def test_steemd_refusals_get_their_verdicts(replay_node, acting):
    # A block a second: two votes sent just after a block starts share its head time.
    other = "STM6rtM2qqp4tVNPmtmNMPKPVAZwSbyFcR3C2gCMNXt6Y7qAvfTQH"  # a key we do not hold
    node = replay_node(None, *FAST, "--pace", "1", "--account", f"someone:{other}")
    first, second = acting.sample_posts(2)

    async def scenario():
        nodes = Nodes((node.url,), timeout=5)
        key = Key(acting.DEMO_WIF, 1)
        verdicts = {}
        head = await nodes.head()
        _, verdicts["expired"], _ = await send(nodes, vote_on(first), key, expires_in=-3)
        _, verdicts["too far"], _ = await send(nodes, vote_on(first), key, expires_in=3700)
        wrong = RefBlock(head.irreversible, "00" * 20)
        _, verdicts["tapos"], _ = await send(nodes, vote_on(first), key, ref=wrong)
        _, verdicts["no post"], _ = await send(nodes, vote_on((first[0], "nothing-here")), key)
        _, verdicts["not ours"], _ = await send(nodes, vote_on(first, voter="someone"), key)
        await next_block(nodes, (await nodes.head()).num)
        _, verdicts["voted"], head = await send(nodes, vote_on(first), key)
        _, verdicts["too soon"], _ = await send(nodes, vote_on(second), key)
        await next_block(nodes, head.num)
        _, verdicts["same vote"], _ = await send(nodes, vote_on(first, weight=10000), key, 61)
        nodes.close()
        return {name: verdict.kind for name, verdict in verdicts.items()}, verdicts

    kinds, verdicts = asyncio.run(scenario())
    assert kinds == {
        "expired": EXPIRED,
        "too far": EXPIRED,
        "tapos": TAPOS,
        "no post": PERMANENT,
        "not ours": PERMANENT,
        "voted": ACCEPTED,
        "too soon": TOO_EARLY,
        "same vote": PERMANENT,
    }
    assert verdicts["too soon"].reason == "Can only vote once every 3 seconds."
    assert verdicts["same vote"].reason == (
        "Your current vote on this comment is identical to this vote."
    )
    assert "Missing Posting Authority" in verdicts["not ours"].reason


def test_refused_for_rc_and_certainly_in_no_block_once_expired(replay_node, acting):
    """A node short of RC for everyone; a node that takes transactions and never includes
    them."""
    short = replay_node(None, *FAST, "--refuse-rc", "1")
    node = replay_node(None, *FAST, "--drop-accepted", "1")
    post = acting.sample_posts(1)[0]

    async def scenario():
        key = Key(acting.DEMO_WIF, 1)
        nodes = Nodes((short.url,), timeout=5)
        _, rc, _ = await send(nodes, vote_on(post), key)
        nodes.close()
        assert rc.kind == RC and "needs 2345678901 RC" in rc.reason, rc
        nodes = Nodes((node.url,), timeout=5)
        signed, verdict, head = await send(nodes, vote_on(post), key, expires_in=30)
        assert verdict.kind == ACCEPTED
        last = head.num + 11
        early = await nodes.inclusion(signed.trx_id, signed.expiration, head.num - 2, last)
        while (await nodes.head()).irreversible < last:
            await asyncio.sleep(0.1)
        final = await nodes.inclusion(signed.trx_id, signed.expiration, head.num - 2, last)
        nodes._find_offered = False
        scanned = await nodes.inclusion(signed.trx_id, signed.expiration, head.num - 2, last)
        nodes.close()
        return early, final, scanned

    early, final, scanned = asyncio.run(scenario())
    assert early == UNDECIDED
    assert final == scanned == NOT_INCLUDED


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        # steemd 0.23 as json_rpc_plugin answers (the texts of steem_evaluator.cpp)
        (
            {
                "code": -32003,
                "message": "Assert Exception:itr->vote_percent != o.weight: You have "
                "already voted in a similar way.",
                "data": {"code": 10},
            },
            PERMANENT,
        ),  # fmt: skip
        (
            {
                "code": -32000,
                "message": "plugin exception:Account: bob has 12 RC, needs 345 RC. "
                "Please wait to transact, or power up STEEM.",
                "data": {"code": 4100000},
            },
            RC,
        ),  # fmt: skip
        (
            {
                "code": -32000,
                "message": "missing required posting authority:Missing Posting Authority bob",
                "data": {"code": 3030000},
            },
            PERMANENT,
        ),  # fmt: skip
        ({"code": -32603, "message": "Internal Error"}, "unknown"),
        (
            {
                "code": -32003,
                "message": "Assert Exception:( now - auth.last_root_post ) > "
                "STEEM_MIN_ROOT_COMMENT_INTERVAL: You may only post once every 5 minutes.",
            },
            TOO_EARLY,
        ),
    ],
)
def test_verdicts_on_steemd_error_objects(error, kind):
    assert judge(error).kind == kind


def test_a_timeout_is_no_answer_and_may_have_reached_the_node(replay_node):
    node = replay_node(None, "--pace", "0", "--fail-stall", "1", "--stall-seconds", "3")

    async def scenario():
        nodes = Nodes((node.url,), timeout=0.5)
        started = time.monotonic()
        sent = await nodes.broadcast({"operations": []})
        nodes.close()
        return sent, time.monotonic() - started

    sent, took = asyncio.run(scenario())
    assert sent.answer is None and sent.maybe_sent
    assert took < 10
