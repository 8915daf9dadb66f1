"""The signer against a chain that loses things: accepted transactions never included,
answers lost, RC refusals; and two signers at once. Each vote lands exactly once, and a
vote is signed anew only once its earlier transaction has expired in no block."""

import json
import re
import threading
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    faults = ("--drop-accepted", "0.3", "--lose-answer", "0.25", "--refuse-rc", "0.2")
    chain = pipeline(None, *acting.CHAIN_OPTIONS, "--keep-producing", *faults)
    signer = chain.worker("signer", env=signer_env(chain.node.url))
    posts: list[tuple[str, str]] = []
    kinds = ("never_included", "answer_lost", "rc_refused")

    def included() -> int:
        return sum(1 for kind, _ in acting.outcomes(chain.nats.url) if kind == "included")

    # Votes in batches until each fault has struck at least once (the dice are the node's).
    while len(posts) < 28 and (not posts or 0 in [chain.node.status()["faults_injected"][k]
                                                   for k in kinds]):  # fmt: skip
        batch = acting.sample_posts(len(posts) + 7)[len(posts) :]
        acting.ask(chain.nats.url, [acting.vote_request(len(posts) + n, *p)
                                    for n, p in enumerate(batch)])  # fmt: skip
        posts += batch
        wanted = len(posts)
        wait_showing(lambda w=wanted: included() == w, 120, "every vote included", signer)
    again = check_each_vote_once(acting, chain.node.url, posts)
    log = "\n".join(signer.stderr.lines)
    met = chain.node.status()["faults_injected"]
    stored = acting.records(chain.nats.url)
    resigned = sum(r["attempt"] - 1 for r in stored.values())
    assert all(met[kind] >= 1 for kind in kinds), met
    # Signed anew: those the node took and dropped, and those refused until they expired.
    assert 1 <= again <= resigned == log.count("re-signing ")
    assert all(len(r["expired"]) == r["attempt"] - 1 for r in stored.values())
    assert "not enough RC" in log and "waits 30 s" in log
    assert "already known to the node" in log, "a lost answer: the same bytes again"
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


class FlakyFront(ThreadingHTTPServer):
    """In front of the test chain, for the signer only: the first broadcast of each
    transaction, and every broadcast of a vote on `hopeless`, is answered with a JSON-RPC
    "Internal Error" (an answer of no known meaning); everything else goes through."""

    def __init__(self, node_url: str, hopeless: str) -> None:
        self.node_url, self.hopeless, self.seen = node_url, hopeless, set()
        self.refused: list[str] = []
        super().__init__(("127.0.0.1", 0), _Front)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Front(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        call = json.loads(body)
        front: FlakyFront = self.server  # type: ignore[assignment]
        if isinstance(call, dict) and call.get("method") == "condenser_api.broadcast_transaction":
            trx = call["params"][0]
            signature, vote = trx["signatures"][0], trx["operations"][0][1]
            if signature not in front.seen or vote["permlink"] == front.hopeless:
                front.seen.add(signature)
                front.refused.append(vote["permlink"])
                error = {"code": -32603, "message": "Internal Error"}
                return self._answer(
                    json.dumps({"jsonrpc": "2.0", "id": call["id"], "error": error})
                )
        request = urllib.request.Request(front.node_url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            self._answer(reply.read().decode())

    def _answer(self, text: str) -> None:
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # quiet
        pass


def test_errors_of_unknown_meaning_are_retried_a_bounded_number_of_times_then_failed_once(
    pipeline, signer_env, acting
):
    chain = pipeline(None, *acting.CHAIN_OPTIONS, "--keep-producing")
    posts = acting.sample_posts(5)
    front = FlakyFront(chain.node.url, hopeless=posts[-1][1])
    try:
        env = signer_env(front.url, SIGNER_MAX_ERRORS="3")
        signer = chain.worker("signer", env=env)
        acting.ask(chain.nats.url, [acting.vote_request(n, *p) for n, p in enumerate(posts)])
        wait_showing(lambda: len(acting.outcomes(chain.nats.url)) == len(posts), 90,
                     "an outcome for every request", signer)  # fmt: skip
    finally:
        front.shutdown()
    told = {body["operations"][0][1]["permlink"]: (kind, body) for kind, body in acting.outcomes(
        chain.nats.url)}  # fmt: skip
    assert told[posts[-1][1]][0] == "failed"
    assert told[posts[-1][1]][1]["reason"] == "Internal Error (after 3 errors)"
    assert {kind for permlink, (kind, _) in told.items() if permlink != posts[-1][1]} == {
        "included"
    }, "one error, then the same bytes again: in"
    assert Counter(front.refused)[posts[-1][1]] == 3, "three tries, then no more"
    on_chain = acting.votes_on_chain(chain.node.url)
    assert posts[-1] not in on_chain
    assert all(len(on_chain[post]) == 1 for post in posts[:-1])
