"""The JSON-RPC server over real HTTP on loopback: methods, batches, errors, clock, faults."""

from __future__ import annotations

import functools
import json
import time

import pytest
from replay_node.archive import load_archive
from replay_node.generate import generate_blocks
from replay_node.shapes import to_condenser
from steem_testing.paths import MAINNET
from steem_testing.waiting import wait_until

FIRST, LAST, REAL = 3286700, 3287099, 3286849


def real_block(fixtures) -> dict:
    path = fixtures / "steem-blocks" / "appbase" / f"{REAL}.json"
    return json.loads(path.read_text())["result"]["block"]


# -- methods --------------------------------------------------------------------------


def test_get_config_makes_a_steem_chain(sample_node, client):
    http = client(sample_node.url)
    for method in ("database_api.get_config", "condenser_api.get_config"):
        config = http.result(method, {} if method.startswith("database") else [])
        assert config["STEEM_CHAIN_ID"] == "0" * 64
        assert config["STEEM_BLOCKCHAIN_VERSION"] == "0.23.1"
        assert config["STEEM_ADDRESS_PREFIX"] == "STM"
        assert config["STEEM_BLOCK_INTERVAL"] == 3
        assert config["STEEM_SYMBOL"] == {"nai": "@@000000021", "decimals": 3}


def test_dynamic_global_properties(sample_node, client):
    http = client(sample_node.url)
    dgp = http.result("database_api.get_dynamic_global_properties", {})
    blocks = load_archive()
    assert dgp["head_block_number"] == LAST
    assert dgp["head_block_id"] == blocks[-1]["block_id"]
    assert dgp["time"] == blocks[-1]["timestamp"]
    assert dgp["current_witness"] == blocks[-1]["witness"]
    assert dgp["last_irreversible_block_num"] == LAST
    assert dgp["current_supply"]["nai"] == "@@000000021"
    legacy = http.result("condenser_api.get_dynamic_global_properties", [])
    assert legacy["head_block_number"] == LAST
    assert legacy["current_supply"].endswith(" STEEM")
    assert legacy["total_vesting_shares"].endswith(" VESTS")


def test_get_block_serves_the_real_block_in_both_shapes(sample_node, client):
    http = client(sample_node.url)
    block = real_block(MAINNET)
    assert http.result("block_api.get_block", {"block_num": REAL}) == {"block": block}
    condenser = http.result("condenser_api.get_block", [REAL])
    assert condenser == to_condenser(block)
    assert condenser["block_id"] == block["block_id"]
    assert condenser["signing_key"] == block["signing_key"]
    assert condenser["transaction_ids"] == block["transaction_ids"]
    assert condenser["transactions"][1]["operations"][0][0] == "transfer_to_vesting"
    assert condenser["transactions"][1]["operations"][0][1]["amount"].endswith(" STEEM")
    # the legacy call form
    status, body = http.post(
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "call",
            "params": ["condenser_api", "get_block", [REAL]],
        }
    )
    assert json.loads(body) == {"jsonrpc": "2.0", "result": condenser, "id": 4}


def test_missing_blocks_are_empty(sample_node, client):
    http = client(sample_node.url)
    for n in (FIRST - 1, LAST + 1, 1):
        assert http.result("block_api.get_block", {"block_num": n}) == {}
        assert http.result("condenser_api.get_block", [n]) is None


def test_header_ops_version_methods_and_no_get_block_range(sample_node, client):
    http = client(sample_node.url)
    header = http.result("block_api.get_block_header", {"block_num": REAL})["header"]
    assert header["witness"] == "complexring" and "transactions" not in header
    assert http.result("condenser_api.get_block_header", [REAL])["previous"] == header["previous"]
    ops = http.result("account_history_api.get_ops_in_block", {"block_num": REAL})["ops"]
    in_transactions = [op for op in ops if op["virtual_op"] == 0]
    assert len(in_transactions) == 32 and ops[0]["op"]["type"] == "vote_operation"
    assert http.result("condenser_api.get_ops_in_block", [REAL, False])[0]["op"][0] == "vote"
    assert http.result("condenser_api.get_version", [])["blockchain_version"] == "0.23.1"
    methods = http.result("jsonrpc.get_methods", {})
    assert "block_api.get_block" in methods and "block_api.get_block_range" not in methods
    # Steem's block_api has get_block and get_block_header only (get_block_range is Hive's)
    error = http.call("block_api.get_block_range", {"starting_block_num": FIRST, "count": 5})
    assert error["error"]["code"] == -32601
    assert "Could not find method get_block_range" in error["error"]["message"]


def test_batches_keep_order_and_ids(sample_node, client):
    http = client(sample_node.url)
    batch = [
        {
            "jsonrpc": "2.0",
            "id": f"id-{n}",
            "method": "block_api.get_block",
            "params": {"block_num": n},
        }
        for n in range(LAST, LAST - 50, -1)
    ]
    batch.insert(7, {"jsonrpc": "2.0", "id": 99, "method": "no_api.nothing", "params": {}})
    batch.append(
        {"jsonrpc": "2.0", "id": None, "method": "condenser_api.get_block", "params": [FIRST]}
    )
    status, body = http.post(batch)
    replies = json.loads(body)
    assert status == 200 and len(replies) == len(batch)
    assert [r["id"] for r in replies] == [r["id"] for r in batch]
    assert "Could not find API no_api" in replies[7]["error"]["message"]
    got = [int(r["result"]["block"]["block_id"][:8], 16) for r in replies[:-1] if "result" in r]
    assert got == list(range(LAST, LAST - 50, -1))
    assert replies[-1]["result"]["block_id"].startswith(f"{FIRST:08x}")


def test_errors_like_a_real_node(sample_node, client):
    http = client(sample_node.url)
    error = http.call("condenser_api.get_blocks", [1])["error"]
    assert error["code"] == -32601
    assert "Could not find method get_blocks" in error["message"]
    status, body = http.post(b'{"jsonrpc": "2.0", "id": 1, "method": ')
    reply = json.loads(body)
    assert status == 200 and reply["error"]["code"] == -32700 and reply["id"] is None
    assert http.call("block_api.get_block", {"block_number": 5})["error"]["code"] == -32602
    status, body = http.post([])
    assert json.loads(body)["error"]["code"] == -32600
    status, body = http.post(b"[1]")
    assert json.loads(body)[0]["error"]["code"] == -32600
    code, body = http.request("GET", "/nothing")
    assert code == 404


# -- the clock ------------------------------------------------------------------------


@functools.cache
def _blocks(n: int) -> tuple[dict, ...]:
    return tuple(generate_blocks(n, 500, seed=2))


def small_blocks(n: int = 12) -> list[dict]:
    """Blocks 500..500+n-1 (synthetic)."""
    return list(_blocks(n))


def test_pace_advances_head_and_lib_with_lag(in_process_node, client):
    node = in_process_node(blocks=small_blocks(30), pace=0.15, irreversible_lag=2)
    http = client(node.url)
    s = http.status()
    assert s["irreversible"] == max(499, s["head"] - 2)  # never below first block - 1
    assert http.result("block_api.get_block", {"block_num": s["head"] + 5}) == {}
    start = s["head"]
    s = wait_until(lambda: (st := http.status())["head"] >= start + 3 and st, 10, "3 more blocks")
    assert s["irreversible"] == s["head"] - 2
    assert node.visibility()["500"]["head"] < node.visibility()["501"]["head"]
    dgp = http.result("database_api.get_dynamic_global_properties", {})
    assert dgp["head_block_number"] - dgp["last_irreversible_block_num"] == 2
    n = dgp["head_block_number"]
    block = http.result("block_api.get_block", {"block_num": n})["block"]
    assert block["block_id"] == dgp["head_block_id"]


def test_lib_catches_up_after_the_end_and_visibility_is_recorded(in_process_node, client):
    node = in_process_node(blocks=small_blocks(10), pace=0.02, irreversible_lag=4, start_blocks=3)
    http = client(node.url)
    s = wait_until(
        lambda: (st := http.status())["irreversible"] == 509 and st, 10, "everything final"
    )
    assert s["head"] == 509
    code, body = http.request("GET", "/visibility")
    vis = json.loads(body)
    assert sorted(map(int, vis)) == list(range(500, 510))
    for n in range(500, 510):
        assert vis[str(n)]["head"] <= vis[str(n)]["irreversible"]
    assert vis["500"]["head"] == vis["502"]["head"] < vis["503"]["head"]  # 3 visible at start
    assert vis["505"]["irreversible"] == vis["509"]["head"]  # lag 4
    assert node.timeline.finished


def test_pace_zero_shows_everything_and_lag_holds(in_process_node, client):
    node = in_process_node(blocks=small_blocks(), irreversible_lag=5)
    s = client(node.url).status()
    assert (s["head"], s["irreversible"]) == (511, 506)
    assert node.advance(3) == (511, 509)
    node = in_process_node(blocks=small_blocks(), start_blocks=4)
    assert client(node.url).status()["head"] == 503
    assert node.advance() == (504, 504)


def test_lib_never_below_first_block_minus_one(in_process_node, client):
    node = in_process_node(blocks=small_blocks(), pace=60, irreversible_lag=15, start_blocks=5)
    dgp = client(node.url).result("database_api.get_dynamic_global_properties", {})
    assert dgp["head_block_number"] == 504
    assert dgp["last_irreversible_block_num"] == 499


# -- latency and faults ---------------------------------------------------------------


def test_latency(in_process_node, client):
    node = in_process_node(blocks=small_blocks(), latency=0.2)
    http = client(node.url)
    t0 = time.monotonic()
    http.result("block_api.get_block", {"block_num": 500})
    assert time.monotonic() - t0 >= 0.2
    t0 = time.monotonic()
    http.status()
    assert time.monotonic() - t0 < 0.2


def test_fail_503_and_status_is_never_faulted(in_process_node, client):
    node = in_process_node(blocks=small_blocks(), fail_503=1.0)
    http = client(node.url)
    status, body = http.post({"jsonrpc": "2.0", "id": 1, "method": "block_api.get_block"})
    assert status == 503 and b"Service Temporarily Unavailable" in body
    assert http.status()["requests_served"] == 1


def test_fail_truncate(in_process_node, client):
    node = in_process_node(blocks=small_blocks(), fail_truncate=1.0)
    status, body = client(node.url).post(
        {"jsonrpc": "2.0", "id": 1, "method": "block_api.get_block", "params": {"block_num": 501}}
    )
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(body)
    assert body.startswith(b'{"jsonrpc":"2.0","result":{"block":')


def test_fail_rpc_error(in_process_node, client):
    node = in_process_node(blocks=small_blocks(), fail_rpc_error=1.0)
    http = client(node.url)
    assert http.call("block_api.get_block", {"block_num": 501}, id=8) == {
        "jsonrpc": "2.0",
        "error": {"code": -32603, "message": "Internal Error"},
        "id": 8,
    }
    status, body = http.post([{"jsonrpc": "2.0", "id": 1, "method": "block_api.get_block"}])
    assert json.loads(body)["error"]["message"] == "Internal Error"


def test_fail_stall(in_process_node, client):
    node = in_process_node(blocks=small_blocks(), fail_stall=1.0, stall_seconds=0.3)
    http = client(node.url)
    t0 = time.monotonic()
    assert http.result("block_api.get_block", {"block_num": 501})["block"]
    assert time.monotonic() - t0 >= 0.3


def test_faults_are_deterministic_for_a_seed(in_process_node, client):
    def pattern(seed: int) -> list[int]:
        node = in_process_node(blocks=small_blocks(), fail_503=0.3, fail_rpc_error=0.3, seed=seed)
        http = client(node.url)
        out = []
        for _ in range(40):
            status, body = http.post({"jsonrpc": "2.0", "id": 1, "method": "jsonrpc.get_methods"})
            out.append(503 if status == 503 else (1 if b"Internal Error" in body else 0))
        return out

    a, b, c = pattern(1), pattern(1), pattern(2)
    assert a == b != c
    assert set(a) == {0, 1, 503}


def test_null_blocks_a_few_times_then_served(in_process_node, client):
    node = in_process_node(blocks=small_blocks(), null_blocks={503, 505}, null_blocks_times=2)
    http = client(node.url)
    assert http.result("block_api.get_block", {"block_num": 503}) == {}
    assert http.result("condenser_api.get_block", [503]) is None
    assert http.result("block_api.get_block", {"block_num": 503})["block"]
    assert http.result("condenser_api.get_block", [503])["block_id"].startswith(f"{503:08x}")
    served = [http.result("block_api.get_block", {"block_num": n}) for n in (504, 505, 506)]
    assert [int(b["block"]["block_id"][:8], 16) if b else None for b in served] == [504, None, 506]
    forever = in_process_node(blocks=small_blocks(), null_blocks={501})
    http = client(forever.url)
    for _ in range(5):
        assert http.result("block_api.get_block", {"block_num": 501}) == {}


def test_behind_reports_a_lagging_node(in_process_node, client):
    node = in_process_node(blocks=small_blocks(), behind=4)
    http = client(node.url)
    dgp = http.result("database_api.get_dynamic_global_properties", {})
    assert dgp["head_block_number"] == 507
    assert dgp["last_irreversible_block_num"] == 507
    assert http.result("block_api.get_block", {"block_num": 507})["block"]
    assert http.result("block_api.get_block", {"block_num": 508}) == {}
    assert http.status()["head"] == 507


# -- beem -----------------------------------------------------------------------------


def test_beem_noderpc_appbase_and_batches(sample_node):
    noderpc = pytest.importorskip("beemapi.noderpc")
    rpc = noderpc.NodeRPC([sample_node.url], num_retries=2, timeout=5)
    assert rpc.get_network()["prefix"] == "STM"
    dgp = rpc.get_dynamic_global_properties(api="database")
    assert dgp["head_block_number"] == LAST
    assert rpc.get_block({"block_num": REAL}, api="block") == {"block": real_block(MAINNET)}
    for n in range(FIRST, FIRST + 49):
        assert rpc.get_block({"block_num": n}, api="block", add_to_queue=True) is None
    batch = rpc.get_block({"block_num": FIRST + 49}, api="block", add_to_queue=False)
    assert [int(r["block"]["block_id"][:8], 16) for r in batch] == list(range(FIRST, FIRST + 50))


def test_beem_noderpc_condenser(sample_node):
    noderpc = pytest.importorskip("beemapi.noderpc")
    rpc = noderpc.NodeRPC([sample_node.url], use_condenser=True, num_retries=2, timeout=5)
    block = rpc.get_block(REAL)
    assert block == to_condenser(real_block(MAINNET))
    assert block["transactions"][0]["operations"][0][0] == "vote"
    assert rpc.get_dynamic_global_properties()["head_block_number"] == LAST


def test_beem_votes_through_its_own_api(chain, posts):
    """What a bot does with beem alone: TransactionBuilder (network_broadcast_api) and
    Comment.upvote (condenser_api, reading the post with get_content first)."""
    beem = pytest.importorskip("beem")
    from beem.comment import Comment
    from beem.transactionbuilder import TransactionBuilder
    from beembase.operations import Vote
    from replay_node.accounts import DEMO_WIF

    node, http = chain
    demo = "replay-demo"  # the demo account and its published test key (accounts.py)
    steem = beem.Steem(node=[node.url], keys=[DEMO_WIF], num_retries=1, timeout=5)
    builder = TransactionBuilder(blockchain_instance=steem)
    author, permlink = posts[0]
    builder.appendOps(Vote(voter=demo, author=author, permlink=permlink, weight=10000))
    builder.appendSigner(demo, "posting")
    builder.sign()
    builder.broadcast()
    node.advance()
    legacy = beem.Steem(
        node=[node.url], keys=[DEMO_WIF], num_retries=1, timeout=5, use_condenser=True
    )
    post = Comment(f"@{posts[1][0]}/{posts[1][1]}", blockchain_instance=legacy)
    reply = post.upvote(50, voter=demo)
    node.advance()
    seen = json.loads(http.request("GET", "/transactions")[1])["transactions"]
    assert [t["status"] for t in seen] == ["included", "included"]
    assert seen[1]["trx_id"] == reply["trx_id"]
    assert seen[1]["operations"][0]["value"] == {
        "voter": demo,
        "author": posts[1][0],
        "permlink": posts[1][1],
        "weight": 5000,
    }
