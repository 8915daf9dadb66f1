"""The signer against a chain that loses things: accepted transactions never included,
answers lost, RC refusals; and two signers at once. Each vote lands exactly once, and a
vote is signed anew only once its earlier transaction has expired in no block."""

import json
import re
import urllib.request
from collections import Counter

from steem_testing.waiting import wait_showing


def block_time(node_url: str, num: int) -> str:
    payload = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "condenser_api.get_block_header",
        "params": [num],
    }
    request = urllib.request.Request(node_url, json.dumps(payload).encode())
    with urllib.request.urlopen(request, timeout=5) as reply:
        return json.load(reply)["result"]["timestamp"]


def check_each_vote_once(acting, node_url: str, posts: list[tuple[str, str]]) -> int:
    """Every post has one included vote; every earlier transaction of its vote is in no
    block and expired before the next one was taken. Returns how many were signed anew."""
    on_chain = acting.votes_on_chain(node_url)
    again = 0
    for post in posts:
        transactions = on_chain[post]
        assert [t["status"] for t in transactions].count("included") == 1, transactions
        assert transactions[-1]["status"] == "included", transactions
        for earlier, later in zip(transactions, transactions[1:], strict=False):
            taken_at = block_time(node_url, later["accepted_at_block"])
            assert earlier["status"] != "included"
            assert taken_at >= earlier["expiration"], (earlier, later, taken_at)
            again += 1
    return again


def test_lost_dropped_and_refused_transactions_end_in_one_vote_each(pipeline, signer_env, acting):
    # Each fault strikes some of the 25 or more broadcasts (none at all: under 1% each).
    faults = ("--drop-accepted", "0.3", "--lose-answer", "0.25", "--refuse-rc", "0.2")
    chain = pipeline(None, *acting.CHAIN_OPTIONS, "--keep-producing", *faults)
    signer = chain.worker("signer", env=signer_env(chain.node.url))
    posts = acting.sample_posts(14)
    acting.ask(chain.nats.url, [acting.vote_request(n, *post) for n, post in enumerate(posts)])

    def included() -> int:
        return sum(1 for kind, _ in acting.outcomes(chain.nats.url) if kind == "included")

    wait_showing(lambda: included() == len(posts), 150, "every vote included", signer)
    again = check_each_vote_once(acting, chain.node.url, posts)
    log = "\n".join(signer.stderr.lines)
    met = chain.node.status()["faults_injected"]
    stored = acting.records(chain.nats.url)
    resigned = sum(r["attempt"] - 1 for r in stored.values())
    # Signed anew: those the node took and dropped, and those refused until they expired.
    assert met.get("never_included", 0) >= 1 and again >= 1, met
    assert again <= resigned == log.count("re-signing ")
    assert all(len(r["expired"]) == r["attempt"] - 1 for r in stored.values())
    assert met.get("rc_refused", 0) >= 1 and "not enough RC" in log and "waits 30 s" in log
    assert met.get("answer_lost", 0) >= 1 and "already known to the node" in log
    assert len(acting.outcomes(chain.nats.url)) == len(posts), "each told once"


def test_two_signers_at_once_sign_each_request_once(pipeline, signer_env, acting):
    chain = pipeline(None, *acting.CHAIN_OPTIONS, "--keep-producing")
    one = chain.worker("signer", env=signer_env(chain.node.url))
    two = chain.worker("signer", env=signer_env(chain.node.url))
    for signer in (one, two):
        signer.stderr.wait_for("requests in the store", timeout=30)
    posts = acting.sample_posts(14)
    acting.ask(chain.nats.url, [acting.vote_request(n, *post) for n, post in enumerate(posts)])

    def included() -> int:
        return sum(1 for kind, _ in acting.outcomes(chain.nats.url) if kind == "included")

    wait_showing(lambda: included() == len(posts), 60, "every vote included", one, two)
    assert check_each_vote_once(acting, chain.node.url, posts) == 0
    signed = Counter(
        found.group(1)
        for signer in (one, two)
        for line in signer.stderr.lines
        if (found := re.search(r"signed (\S+) \(", line))
    )
    assert set(signed) == {r["id"] for r in acting.records(chain.nats.url).values()}
    assert max(signed.values()) == 1, "no request signed by both"
    assert all(r["attempt"] == 1 for r in acting.records(chain.nats.url).values())
