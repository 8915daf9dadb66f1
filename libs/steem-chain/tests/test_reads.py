"""The read-only API (a post, comments, accounts, the chain's properties) from asyncio
code, against the real replay node over HTTP."""

import asyncio
import time

import pytest
from replay_node.accounts import DEMO_ACCOUNT, DEMO_PUBLIC_KEY
from replay_node.archive import load_archive
from steem_chain import AsyncChain, ChainReader, NodePool, RequestRefused
from steem_testing.servers import free_port
from steem_testing.waiting import wait_until


def first_post(chain) -> tuple[str, str]:
    for block in load_archive(chain.path):
        for trx in block["transactions"]:
            for op in trx["operations"]:
                value = op["value"]
                if op["type"] == "comment_operation" and value["parent_author"] == "":
                    return value["author"], value["permlink"]
    raise AssertionError("no post in the archive")


def test_properties_tip_and_blocks_through_a_dead_node_first(replay_node, chain):
    node = replay_node(chain.path, "--pace", "0")

    async def read():
        reads = AsyncChain([f"http://127.0.0.1:{free_port()}", node.url], timeout=2)
        try:
            props = await reads.dynamic_global_properties()
            tip = await reads.tip()
            blocks = await reads.blocks(chain.first, chain.first + 2)
        finally:
            reads.close()
        return props, tip, blocks

    props, tip, blocks = asyncio.run(read())
    assert props["head_block_number"] == tip.head == chain.last
    assert tip.node == node.url
    assert [b.id for b in blocks] == [chain.ids[chain.first + i] for i in range(3)]


def test_a_post_and_comments_by_key(replay_node, chain):
    node = replay_node(chain.path, "--pace", "0")
    author, permlink = first_post(chain)

    async def read():
        reads = AsyncChain([node.url])
        try:
            post = await reads.post(author, permlink)
            missing = await reads.post("nobody", "nothing-here")
            found = await reads.find_comments([(author, permlink), ("nobody", "nothing-here")])
        finally:
            reads.close()
        return post, missing, found

    post, missing, found = asyncio.run(read())
    assert (post["author"], post["permlink"], post["parent_author"]) == (author, permlink, "")
    assert missing is None
    assert found[("nobody", "nothing-here")] is None
    assert found[(author, permlink)]["created"] == post["created"]


def test_accounts_by_name(replay_node, chain):
    """The test chain's accounts are those with keys, its demo account among them."""
    node = replay_node(chain.path, "--pace", "0")
    reader = ChainReader(NodePool([node.url], timeout=5))
    accounts = reader.accounts([DEMO_ACCOUNT, "no-such-account"])
    assert accounts[DEMO_ACCOUNT]["name"] == DEMO_ACCOUNT
    assert accounts["no-such-account"] is None
    assert reader.account(DEMO_ACCOUNT)["posting"]["key_auths"] == [[DEMO_PUBLIC_KEY, 1]]


def test_a_request_no_node_can_answer_is_given_up_at_once(replay_node, chain):
    node = replay_node(chain.path, "--pace", "0")
    reader = ChainReader(NodePool([node.url], timeout=5))
    bad = {"comments": "not a list"}
    with pytest.raises(RequestRefused, match="Invalid parameters"):
        reader.call(lambda n: n.client.call("database_api.find_comments", bad))


def test_a_cancelled_read_stops_retrying(replay_node, chain):
    """Every node stalls: the caller's timeout ends the read; no thread keeps asking."""
    stalled = replay_node(chain.path, "--pace", "0", "--fail-stall", "1", "--stall-seconds", "2")

    async def read():
        reads = AsyncChain([stalled.url], timeout=0.5)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reads.dynamic_global_properties(), 1.0)
        return reads, time.monotonic() - started

    reads, elapsed = asyncio.run(read())
    assert elapsed < 1.5
    health = reads.pool.nodes[0].health
    wait_until(lambda: health.in_flight == 0, 5, "the request in flight to time out")
    asked = health.requests
    time.sleep(1.5)  # nothing to wait for: a read still retrying would ask within 1 s
    assert health.requests == asked
