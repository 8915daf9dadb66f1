"""Micro-forks, corrupted `previous`, fault counters, and archives holding bad data."""

from __future__ import annotations

import functools
import json

import pytest
from replay_node.archive import load_archive, new_posts, write_archive
from replay_node.faults import Faults, fault_plan
from replay_node.fork import PERMLINK_SUFFIX, fork_block_id
from replay_node.generate import generate_blocks
from replay_node.node import ReplayNode
from steem_testing.waiting import wait_until

FIRST = 700


@functools.cache
def _blocks(n: int) -> tuple[dict, ...]:
    return tuple(generate_blocks(n, FIRST, seed=5))


def blocks(n: int = 20) -> list[dict]:
    """Synthetic blocks FIRST..FIRST+n-1."""
    return list(_blocks(n))


def get_block(http, num: int) -> dict:
    return http.result("block_api.get_block", {"block_num": num})["block"]


def ref(block: dict) -> dict:
    return {"block_num": int(block["block_id"][:8], 16), "block_id": block["block_id"]}


# -- forks ----------------------------------------------------------------------------


def test_a_fork_replaces_the_last_blocks_once_the_head_moves_past_it(in_process_node, client):
    chain = blocks()
    at, depth = 710, 3
    node = in_process_node(
        blocks=chain, start_blocks=5, irreversible_lag=4, forks=[at], fork_depth=depth
    )
    http = client(node.url)
    node.advance(at - FIRST - 4)  # head at 710: the old branch, in both shapes
    assert http.status()["head"] == at
    old = {n: get_block(http, n) for n in range(at - depth, at + 1)}
    assert old == {n: chain[n - FIRST] for n in old}
    (planned,) = http.status()["forks"]
    assert planned["done"] is False

    head, lib = node.advance()  # 711: the node switched to the new branch
    assert (head, lib) == (at + 1, at + 1 - 4)
    new = {n: get_block(http, n) for n in range(at - depth, at + 2)}
    assert new[at - depth] == old[at - depth], "the fork point does not change"
    for n in range(at - depth + 1, at + 1):
        assert new[n]["block_id"] == fork_block_id(n, old[n]["block_id"]) != old[n]["block_id"]
        assert new[n]["block_id"][:8] == f"{n:08x}", "same number, other id"
        assert new[n]["previous"] == new[n - 1]["block_id"], "the new branch is linked"
        assert new[n]["timestamp"] == old[n]["timestamp"]
        old_ops = [op for tx in old[n]["transactions"] for op in tx["operations"]]
        new_ops = [op for tx in new[n]["transactions"] for op in tx["operations"]]
        assert new_ops != old_ops, f"block {n}: the new branch holds other operations"
        for op in new_ops:
            if "permlink" in op["value"]:
                assert op["value"]["permlink"].endswith(PERMLINK_SUFFIX)
        condenser = http.result("condenser_api.get_block", [n])
        assert condenser["block_id"] == new[n]["block_id"]
        assert condenser["previous"] == new[n]["previous"]
        header = http.result("block_api.get_block_header", {"block_num": n})["header"]
        assert header["previous"] == new[n]["previous"]
    assert new[at + 1]["previous"] == new[at]["block_id"], "the chain goes on from the new branch"
    assert new[at + 1]["block_id"] == chain[at + 1 - FIRST]["block_id"]
    assert [get_block(http, n) for n in (at - 1, at, at + 1)] == [new[at - 1], new[at], new[at + 1]]

    (done,) = http.status()["forks"]
    assert done == {
        "at": at,
        "depth": depth,
        "done": True,
        "fork_point": ref(old[at - depth]),
        "abandoned": [ref(old[n]) for n in range(at - depth + 1, at + 1)],
        "new_branch": [ref(new[n]) for n in range(at - depth + 1, at + 1)],
    }


def test_new_posts_of_the_new_branch_are_other_posts(in_process_node, client):
    chain = blocks()
    node = in_process_node(blocks=chain, start_blocks=10, irreversible_lag=2, forks=[712])
    http = client(node.url)
    node.advance(4)  # head at 713, past the fork
    served = [get_block(http, n) for n in range(FIRST, 714)]
    old_posts = set(new_posts(chain[:14]))
    new_branch_posts = set(new_posts(served[11:13]))
    assert new_branch_posts, "the forked blocks should hold new posts"
    assert not new_branch_posts & old_posts


def test_two_forks_and_a_forked_chain_served_by_the_clock(in_process_node, client):
    node = in_process_node(
        blocks=blocks(), pace=0.05, start_blocks=2, irreversible_lag=3, forks=[705, 712]
    )
    http = client(node.url)
    status = wait_until(
        lambda: (s := http.status())["head"] == FIRST + 19 and s, 10, "the end of the archive"
    )
    assert [f["done"] for f in status["forks"]] == [True, True]
    previous = get_block(http, FIRST)["block_id"]
    for n in range(FIRST + 1, FIRST + 20):
        block = get_block(http, n)
        assert block["previous"] == previous, f"block {n} is not linked"
        previous = block["block_id"]


@pytest.mark.parametrize(
    "options, problem",
    [
        (
            {"forks": [710], "fork_depth": 5, "irreversible_lag": 4},
            "more than the irreversible lag",
        ),
        ({"forks": [710], "fork_depth": 0, "irreversible_lag": 4}, "at least 1"),
        ({"forks": [701], "fork_depth": 2, "irreversible_lag": 4}, "must follow a block"),
        ({"forks": [719], "fork_depth": 2, "irreversible_lag": 4}, "must go on after block 719"),
        ({"forks": [703], "fork_depth": 2, "irreversible_lag": 4}, "already at block 704"),
        ({"forks": [710, 712], "fork_depth": 2, "irreversible_lag": 4}, "overlap"),
    ],
)
def test_impossible_forks_are_refused(options, problem):
    with pytest.raises(ValueError, match=problem):
        ReplayNode(blocks=blocks(), pace=0, start_blocks=5, **options)


def test_cli_forks_and_refuses_a_fork_deeper_than_the_lag(replay_cli, tmp_path):
    archive = tmp_path / "chain.jsonl"
    write_archive(blocks(), archive)
    bad = replay_cli(archive, "--port", "0", "--pace", "0", "--fork-at", "710", "--fork-depth", "3")
    assert bad.wait(20) == 2
    (line,) = bad.stderr.lines
    assert line.startswith("replay-node: error: fork depth 3 is more than the irreversible lag")

    proc = replay_cli(
        *(archive, "--port", "0", "--pace", "0.05", "--start-blocks", "2"),
        *("--irreversible-lag", "3", "--fork-at", "710", "--fork-depth", "3"),
    )
    proc.stderr.wait_for(r"fork planned at block 710: blocks 708\.\.710 will be replaced")


# -- corrupted previous, fault counters -----------------------------------------------


def test_corrupt_previous_serves_a_block_that_does_not_link(in_process_node, client):
    chain = blocks()
    node = in_process_node(blocks=chain, corrupt_previous={705})
    http = client(node.url)
    block = get_block(http, 705)
    assert block["block_id"] == chain[5]["block_id"], "the node claims the same block"
    assert block["previous"] != chain[4]["block_id"]
    assert block["previous"][:8] == f"{704:08x}", "a plausible id of the wrong block"
    assert http.result("condenser_api.get_block", [705])["previous"] == block["previous"]
    assert get_block(http, 706) == chain[6]
    assert http.status()["faults_injected"]["corrupt_previous"] == 2


def test_faults_injected_are_counted_by_kind(in_process_node, client):
    node = in_process_node(
        blocks=blocks(), fail_503=0.25, fail_truncate=0.25, fail_rpc_error=0.25, seed=3
    )
    http = client(node.url)
    outcomes = {"http_503": 0, "truncated": 0, "rpc_error": 0}
    for _ in range(60):
        status, body = http.post({"jsonrpc": "2.0", "id": 1, "method": "jsonrpc.get_methods"})
        if status == 503:
            outcomes["http_503"] += 1
        elif b"Internal Error" in body:
            outcomes["rpc_error"] += 1
        else:
            try:
                json.loads(body)
            except ValueError:
                outcomes["truncated"] += 1
    counted = http.status()["faults_injected"]
    assert {k: counted[k] for k in outcomes} == outcomes
    assert all(outcomes.values())
    nulls = in_process_node(blocks=blocks(), null_blocks={703}, null_blocks_times=2)
    http = client(nulls.url)
    for _ in range(3):
        http.result("block_api.get_block", {"block_num": 703})
    assert http.status()["faults_injected"]["null_block"] == 2


# -- archives with bad data -----------------------------------------------------------

MALFORMED_OPS = [
    {"type": "vote_operation"},  # no value
    {"type": "vote_operation", "value": {"voter": "a"}, "extra": 1},
    "not an operation",
    ["vote", {"voter": "a"}, "third"],
    {"type": 42, "value": {}},
]


def test_malformed_operations_and_lone_surrogates_are_served_as_they_are(
    in_process_node, client, tmp_path
):
    chain = blocks(3)
    block = json.loads(json.dumps(chain[1]))
    block["transactions"] = block["transactions"][:1]
    block["transaction_ids"] = block["transaction_ids"][:1]
    block["transactions"][0]["operations"] = list(MALFORMED_OPS) + [
        {
            "type": "comment_operation",
            "value": {
                "parent_author": "",
                "parent_permlink": "x",
                "author": "ann",
                "permlink": "lone\ud800surrogate",
                "title": "nul\u0000byte",
                "body": "\udfff",
                "json_metadata": "{not json",
            },
        },
    ]
    chain[1] = block
    archive = tmp_path / "bad.jsonl"
    write_archive(chain, archive)
    assert "\\ud800" in archive.read_text(), "written as an ASCII escape"
    loaded = load_archive(archive)
    assert loaded[1]["transactions"][0]["operations"] == block["transactions"][0]["operations"]
    assert new_posts(loaded[1:2]) == ["https://steemit.com/@ann/lone\ud800surrogate"]

    node = in_process_node(archive)
    http = client(node.url)
    status, body = http.post(
        {"jsonrpc": "2.0", "id": 1, "method": "block_api.get_block", "params": {"block_num": 701}}
    )
    assert b"\\ud800" in body and b"\\udfff" in body, "lone surrogates are sent as escapes"
    served = json.loads(body)["result"]["block"]
    assert served["transactions"][0]["operations"] == block["transactions"][0]["operations"]
    condenser = http.result("condenser_api.get_block", [701])
    assert condenser["transactions"][0]["operations"][: len(MALFORMED_OPS)] == MALFORMED_OPS


def test_fault_plan_tells_what_each_request_will_meet(in_process_node, client):
    options = dict(fail_503=0.2, fail_truncate=0.2, fail_rpc_error=0.2, fail_stall=0.2)
    node = in_process_node(blocks=blocks(), stall_seconds=0.01, seed=9, **options)
    http = client(node.url)
    seen = []
    for _ in range(40):
        before = http.status()["faults_injected"]["stall"]
        status, body = http.post({"jsonrpc": "2.0", "id": 1, "method": "jsonrpc.get_methods"})
        stalled = http.status()["faults_injected"]["stall"] > before
        if stalled:
            seen.append("stall")
        elif status == 503:
            seen.append("http_503")
        elif b"Internal Error" in body:
            seen.append("rpc_error")
        else:
            try:
                json.loads(body)
                seen.append("ok")
            except ValueError:
                seen.append("truncated")
    assert seen == fault_plan(Faults(seed=9, **options), 40)
    assert set(seen) == {"stall", "http_503", "truncated", "rpc_error", "ok"}


def test_served_block_shows_the_branch_served_now(in_process_node):
    chain = blocks()
    node = in_process_node(blocks=chain, start_blocks=11, irreversible_lag=2, forks=[710])
    assert node.served_block(710) == chain[10]
    node.advance()
    assert node.served_block(710)["block_id"] == fork_block_id(710, chain[10]["block_id"])
    assert node.served_block(711)["previous"] == node.served_block(710)["block_id"]
    with pytest.raises(KeyError):
        node.served_block(FIRST + 20)
