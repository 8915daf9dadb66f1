"""The test chain over real HTTP: transactions signed by beem, accepted or refused as
steemd would, included in the next block, their status, accounts, faults on demand."""

from __future__ import annotations

import http.client as httpclient
import json
import struct
import threading
from binascii import unhexlify

import pytest
from beembase import operations
from beembase.signedtransactions import Signed_Transaction
from beemgraphenebase.account import PrivateKey
from beemgraphenebase.chains import known_chains
from replay_node.accounts import DEMO_ACCOUNT, DEMO_PUBLIC_KEY, DEMO_WIF
from replay_node.archive import load_archive
from replay_node.chain_config import shift_time
from replay_node.shapes import tx_to_appbase
from steem_testing.waiting import wait_until

STEEM = known_chains["STEEM"]  # chain id 64 zeros, prefix STM
LAST = 3287099  # the sample's last block
OTHER_WIF = str(PrivateKey("1" * 64))  # a key no account of the node holds


def sign(http, ops, wifs=(DEMO_WIF,), expires_in=60, tapos=None, expiration=None):
    """A transaction signed by beem on the node's head (TaPoS) -> (condenser JSON, id)."""
    dgp = http.result("database_api.get_dynamic_global_properties", {})
    ref = dgp["head_block_number"] & 0xFFFF
    prefix = struct.unpack_from("<I", unhexlify(dgp["head_block_id"]), 4)[0]
    if tapos is not None:
        ref, prefix = tapos
    tx = Signed_Transaction(
        ref_block_num=ref,
        ref_block_prefix=prefix,
        expiration=expiration or shift_time(dgp["time"], expires_in),
        operations=ops,
    )
    tx.sign(list(wifs), chain=STEEM)
    return tx.json(), tx.id


def vote(author_permlink, weight=10000, voter=DEMO_ACCOUNT):
    author, permlink = author_permlink
    return operations.Vote(voter=voter, author=author, permlink=permlink, weight=weight)


def broadcast(http, trx):
    return http.call("condenser_api.broadcast_transaction", [trx])


def error_of(reply):
    assert "error" in reply, reply
    return reply["error"]


def transactions(http):
    code, body = http.request("GET", "/transactions")
    assert code == 200
    return json.loads(body)


# -- accounts -------------------------------------------------------------------------


def test_the_demo_account_and_its_published_key(chain):
    node, http = chain
    assert format(PrivateKey(DEMO_WIF).pubkey, "STM") == DEMO_PUBLIC_KEY
    (account,) = http.result("database_api.find_accounts", {"accounts": [DEMO_ACCOUNT, "nobody"]})[
        "accounts"
    ]
    assert account["name"] == DEMO_ACCOUNT
    assert account["posting"]["key_auths"] == [[DEMO_PUBLIC_KEY, 1]]
    assert account["balance"]["nai"] == "@@000000021"
    (legacy,) = http.result("condenser_api.get_accounts", [[DEMO_ACCOUNT]])
    assert legacy["active"] == account["active"] and legacy["balance"].endswith(" STEEM")
    refs = http.result(
        "account_by_key_api.get_key_references", {"keys": [DEMO_PUBLIC_KEY, "STM5x"]}
    )
    assert refs == {"accounts": [[DEMO_ACCOUNT], []]}
    assert http.result("condenser_api.get_key_references", [[DEMO_PUBLIC_KEY]]) == [[DEMO_ACCOUNT]]


# -- accepted and included ------------------------------------------------------------


def test_a_vote_signed_by_beem_goes_into_the_next_block(chain, posts):
    node, http = chain
    trx, trx_id = sign(http, [vote(posts[0])])
    assert broadcast(http, trx) == {"jsonrpc": "2.0", "result": {}, "id": 1}
    status = http.result("transaction_status_api.find_transaction", {"transaction_id": trx_id})
    assert status == {"status": "within_mempool"}

    assert node.advance() == (LAST + 1, LAST - 1)  # a block after the archive's last
    block = http.result("block_api.get_block", {"block_num": LAST + 1})["block"]
    assert (
        block["previous"]
        == http.result("block_api.get_block", {"block_num": LAST})["block"]["block_id"]
    )
    assert block["transaction_ids"] == [trx_id]
    assert block["transactions"] == [tx_to_appbase(trx)]
    legacy = http.result("condenser_api.get_block", [LAST + 1])["transactions"][0]
    assert (legacy["transaction_id"], legacy["block_num"], legacy["transaction_num"]) == (
        trx_id,
        LAST + 1,
        0,
    )
    assert legacy["operations"] == trx["operations"]
    ops = http.result("account_history_api.get_ops_in_block", {"block_num": LAST + 1})["ops"]
    assert [(o["trx_id"], o["op"]["type"]) for o in ops] == [
        (trx_id, "vote_operation"),
        ("0" * 40, "producer_reward_operation"),
    ]
    status = http.result("transaction_status_api.find_transaction", {"transaction_id": trx_id})
    assert status == {"status": "within_reversible_block", "block_num": LAST + 1}
    node.advance(2)
    status = http.result("transaction_status_api.find_transaction", {"transaction_id": trx_id})
    assert status == {"status": "within_irreversible_block", "block_num": LAST + 1}
    (seen,) = transactions(http)["transactions"]
    assert (seen["trx_id"], seen["status"], seen["block_num"], seen["trx_num"]) == (
        trx_id,
        "included",
        LAST + 1,
        0,
    )
    assert seen["operations"] == block["transactions"][0]["operations"]
    (account,) = http.result("condenser_api.get_accounts", [[DEMO_ACCOUNT]])
    assert (
        account["last_vote_time"]
        == http.result("block_api.get_block", {"block_num": LAST})["block"]["timestamp"]
    )


def test_the_three_broadcast_methods(chain, client, posts):
    node, http = chain
    waiting = client(node.url)  # broadcast_transaction_synchronous holds its connection
    trx, first = sign(http, [vote(posts[0])])
    appbase = tx_to_appbase(trx)
    reply = http.call(
        "network_broadcast_api.broadcast_transaction", {"trx": appbase, "max_block_age": -1}
    )
    assert reply["result"] == {}
    error = error_of(
        http.call(
            "network_broadcast_api.broadcast_transaction", {"trx": appbase, "max_block_age": 60}
        )
    )
    assert "check_max_block_age" in error["message"]
    node.advance()

    trx, second = sign(http, [vote(posts[1])])
    answers = []
    synchronous = threading.Thread(
        target=lambda: answers.append(
            waiting.result("condenser_api.broadcast_transaction_synchronous", [trx])
        )
    )
    synchronous.start()
    try:
        in_mempool = [{"trx_id": second, "status": "within_mempool"}]
        wait_until(lambda: _statuses(http)[1:] == in_mempool, 10, "the broadcast in the mempool")
        node.advance()
    finally:
        synchronous.join(10)
    assert answers == [{"id": second, "block_num": LAST + 2, "trx_num": 0, "expired": False}]
    assert [t["status"] for t in _statuses(http)] == ["included", "included"]
    assert first != second


def _statuses(http):
    return [{k: t[k] for k in ("trx_id", "status")} for t in transactions(http)["transactions"]]


def test_a_comment_by_the_demo_account_is_a_post_of_the_chain(chain, posts):
    node, http = chain
    post = operations.Comment(
        parent_author="",
        parent_permlink="test",
        author=DEMO_ACCOUNT,
        permlink="hello-test-chain",
        title="Hello",
        body="From the test chain.",
        json_metadata="{}",
    )
    trx, _ = sign(http, [post])
    assert "result" in broadcast(http, trx)
    node.advance()
    (c,) = http.result(
        "database_api.find_comments", {"comments": [[DEMO_ACCOUNT, "hello-test-chain"]]}
    )["comments"]
    assert (
        c["created"]
        == http.result("block_api.get_block", {"block_num": LAST + 1})["block"]["timestamp"]
    )
    again = operations.Comment(
        parent_author="",
        parent_permlink="test",
        author=DEMO_ACCOUNT,
        permlink="second-post",
        title="Again",
        body="Too soon.",
        json_metadata="{}",
    )
    trx, _ = sign(http, [again])
    assert "You may only post once every 5 minutes." in error_of(broadcast(http, trx))["message"]


# -- refused as steemd refuses ----------------------------------------------------------


def test_refusals_in_steemd_shapes(chain, posts):
    node, http = chain
    trx, trx_id = sign(http, [vote(posts[0])])
    assert "result" in broadcast(http, trx)

    error = error_of(broadcast(http, trx))
    assert error["code"] == -32003 and "Duplicate transaction check failed" in error["message"]
    assert (error["data"]["code"], error["data"]["name"]) == (10, "assert_exception")
    assert error["data"]["stack"][0]["data"] == {"trx_ix": trx_id}

    error = error_of(broadcast(http, sign(http, [vote(posts[1])])[0]))
    assert error["message"].endswith("Can only vote once every 3 seconds."), (
        "one vote per voter per block"
    )
    node.advance()
    assert "result" in broadcast(http, sign(http, [vote(posts[1])])[0])
    node.advance()
    error = error_of(broadcast(http, sign(http, [vote(posts[0])])[0]))
    assert error["message"].endswith("Your current vote on this comment is identical to this vote.")
    assert "result" in broadcast(http, sign(http, [vote(posts[0], weight=5000)])[0]), (
        "a change is fine"
    )

    error = error_of(broadcast(http, sign(http, [vote(posts[2])], wifs=[OTHER_WIF])[0]))
    assert (error["code"], error["data"]["code"], error["data"]["name"]) == (
        -32000,
        3030000,
        "tx_missing_posting_auth",
    )
    assert (
        error["message"]
        == f"missing required posting authority:Missing Posting Authority {DEMO_ACCOUNT}"
    )
    error = error_of(broadcast(http, sign(http, [vote(posts[2])], wifs=[DEMO_WIF, OTHER_WIF])[0]))
    assert error["data"]["name"] == "tx_irrelevant_sig"
    error = error_of(
        broadcast(http, sign(http, [vote(posts[2], voter="nobody")], wifs=[OTHER_WIF])[0])
    )
    assert error["message"] == "unknown key:unknown key: "
    error = error_of(broadcast(http, sign(http, [vote(("nobody", "nothing"))])[0]))
    assert error["data"]["stack"][0]["data"]["permlink"] == "nothing"

    error = error_of(broadcast(http, sign(http, [vote(posts[2])], expires_in=0)[0]))
    assert (error["code"], error["data"]["code"]) == (-32000, 4030100)
    assert error["data"]["name"] == "transaction_expiration_exception"
    error = error_of(broadcast(http, sign(http, [vote(posts[2])], expires_in=3601)[0]))
    assert error["data"]["stack"][0]["data"]["max_til_exp"] == 3600
    error = error_of(broadcast(http, sign(http, [vote(posts[2])], tapos=(LAST & 0xFFFF, 12345))[0]))
    assert (error["data"]["code"], error["data"]["name"]) == (
        4030200,
        "transaction_tapos_exception",
    )

    create = operations.Account_witness_proxy(account=DEMO_ACCOUNT, proxy="someone")
    assert "result" in broadcast(http, sign(http, [create])[0]), "active authority: the demo key"
    error = error_of(
        http.call("condenser_api.broadcast_transaction", [{"operations": [["pow", {}]]}])
    )
    assert error["message"] == "replay-node: the test chain does not take pow operations"
    refused = transactions(http)["refused"]
    assert len(refused) == 10 and refused[0]["trx_id"] == trx_id


# -- faults on demand -------------------------------------------------------------------


def test_accepted_but_never_included(in_process_node, client, posts):
    node = in_process_node(irreversible_lag=2, keep_producing=True, drop_accepted=1.0)
    http = client(node.url)
    trx, trx_id = sign(http, [vote(posts[0])], expires_in=6)
    assert "result" in broadcast(http, trx)
    node.advance()
    assert (
        http.result("block_api.get_block", {"block_num": LAST + 1})["block"]["transaction_ids"]
        == []
    )
    (seen,) = transactions(http)["transactions"]
    assert seen["status"] == "dropped"
    find = {"transaction_id": trx_id, "expiration": trx["expiration"]}
    assert http.result("transaction_status_api.find_transaction", find) == {"status": "unknown"}
    assert "result" in broadcast(http, trx), "the same bytes again: accepted again"
    node.advance(2)  # past its expiration, still not included
    assert http.result("transaction_status_api.find_transaction", find) == {
        "status": "expired_reversible"
    }
    node.advance(2)
    assert http.result("transaction_status_api.find_transaction", find) == {
        "status": "expired_irreversible"
    }
    assert (
        transactions(http)["transactions"][0]["broadcasts"],
        node.status()["faults_injected"]["never_included"],
    ) == (2, 2)
    assert error_of(broadcast(http, trx))["data"]["name"] == "transaction_expiration_exception"


def test_included_but_the_answer_lost(in_process_node, client, posts):
    node = in_process_node(irreversible_lag=2, keep_producing=True, lose_answer=1.0)
    http = client(node.url)
    trx, trx_id = sign(http, [vote(posts[0])])
    conn = httpclient.HTTPConnection(node.host, node.port, timeout=10)
    request = {"jsonrpc": "2.0", "id": 1, "method": "condenser_api.broadcast_transaction"}
    try:
        conn.request("POST", "/", json.dumps(dict(request, params=[trx])))
        with pytest.raises((httpclient.RemoteDisconnected, ConnectionError)):
            conn.getresponse()
    finally:
        conn.close()
    node.advance()
    assert http.result("block_api.get_block", {"block_num": LAST + 1})["block"][
        "transaction_ids"
    ] == [trx_id]
    assert "Duplicate transaction" in error_of(broadcast(http, trx))["message"]
    assert node.status()["faults_injected"]["answer_lost"] == 1


def test_refused_for_lack_of_resource_credits(in_process_node, client, posts):
    http = client(in_process_node(irreversible_lag=2, refuse_rc=1.0).url)
    error = error_of(broadcast(http, sign(http, [vote(posts[0])])[0]))
    assert (error["code"], error["data"]["code"], error["data"]["name"]) == (
        -32000,
        4100000,
        "plugin_exception",
    )
    assert error["message"].startswith(f"plugin exception:Account: {DEMO_ACCOUNT} has ")
    assert error["message"].endswith("RC. Please wait to transact, or power up STEEM.")


# -- blocks after the archive, transaction status, the command line ---------------------


def test_keeps_producing_after_the_archive_with_the_clock(in_process_node, client):
    node = in_process_node(pace=0.02, start_blocks=400, irreversible_lag=3, keep_producing=True)
    http = client(node.url)
    status = wait_until(
        lambda: (s := http.status())["head"] >= LAST + 5 and s, 10, "blocks after the archive"
    )
    assert status["last_block"] >= status["head"] and status["keep_producing"] is True
    previous = http.result("block_api.get_block", {"block_num": LAST})["block"]
    for num in range(LAST + 1, LAST + 5):
        block = http.result("block_api.get_block", {"block_num": num})["block"]
        assert block["previous"] == previous["block_id"] and block["block_id"][:8] == f"{num:08x}"
        assert block["timestamp"] == shift_time(previous["timestamp"], 3)
        (reward,) = http.result("condenser_api.get_ops_in_block", [num, True])
        assert (
            reward["op"][0] == "producer_reward" and reward["op"][1]["producer"] == block["witness"]
        )
        previous = block


def test_find_transaction_of_the_archive_and_of_nothing(chain):
    node, http = chain
    real = load_archive()[3286849 - 3286700]["transaction_ids"][0]
    found = http.result("transaction_status_api.find_transaction", {"transaction_id": real})
    assert found == {"status": "within_irreversible_block", "block_num": 3286849}
    nothing = {"transaction_id": "ab" * 20}
    assert http.result("transaction_status_api.find_transaction", nothing) == {"status": "unknown"}
    old = dict(nothing, expiration="2016-07-17T00:00:00")
    assert http.result("transaction_status_api.find_transaction", old) == {"status": "too_old"}


def test_command_line_options(replay_cli, client):
    key = format(PrivateKey(OTHER_WIF).pubkey, "STM")
    options = ("--keep-producing", "--account", f"other:{key}", "--drop-accepted", "0.5")
    proc = replay_cli("--port", "0", "--pace", "0", *options)
    http = client(proc.stderr.wait_for(r"on (http://\S+) ").group(1))
    assert http.status()["accounts"] == ["other", DEMO_ACCOUNT]
    refs = http.result("account_by_key_api.get_key_references", {"keys": [key]})
    assert refs == {"accounts": [["other"]]}
    bad = replay_cli("--port", "0", "--account", "nokey")
    assert bad.wait(20) == 2
