"""The signer as a process: nats-server, the test chain (the replay node taking
transactions), the broadcaster, and requests written as the kit writes them."""

import asyncio
import json
import signal
import subprocess

from ipc_config import STATUS_BUCKET, WorkerSettings
from replay_node.accounts import DEMO_ACCOUNT, DEMO_WIF
from steem_testing.jetstream import with_js
from steem_testing.paths import BIN
from steem_testing.waiting import wait_showing


def test_each_request_is_signed_once_included_and_told(pipeline, signer_env, acting):
    a = acting
    chain = pipeline(None, *a.CHAIN_OPTIONS, "--keep-producing")
    signer = chain.worker("signer", env=signer_env(chain.node.url))
    posts = a.sample_posts(4)
    votes = [a.vote_request(n, author, permlink) for n, (author, permlink) in enumerate(posts[:3])]
    missing = a.vote_request(10, posts[0][0], "no-such-post-here")
    stranger = a.vote_request(11, *posts[3], voter="someone-else")
    a.ask(chain.nats.url, [*votes, missing, stranger])

    url = chain.nats.url
    wait_showing(lambda: len(a.outcomes(url)) >= 5, 60, "five outcomes", signer)
    # The same requests again, under other message ids (past JetStream's duplicate
    # window, say): the store remembers them.
    a.ask(url, [*votes, missing], msg_id=lambda r: r["id"] + "/again")
    signer.stderr.wait_for(f"request {missing['id']} seen before", timeout=20)

    told = a.outcomes(url)
    included = {body["id"]: body for kind, body in told if kind == "included"}
    failed = {body["id"]: body for kind, body in told if kind == "failed"}
    assert len(told) == 5, told
    assert set(included) == {v["id"] for v in votes}
    assert "no such account or post" in failed[missing["id"]]["reason"]
    assert failed[stranger["id"]]["reason"] == "no key for @someone-else's posting authority"

    on_chain = a.votes_on_chain(chain.node.url)
    for vote in votes:
        body = vote["operations"][0][1]
        (trx,) = on_chain[(body["author"], body["permlink"])]  # exactly one transaction
        assert trx["status"] == "included"
        assert (trx["trx_id"], trx["block_num"]) == (
            included[vote["id"]]["trx_id"],
            included[vote["id"]]["block_num"],
        )
    refused = a.chain_transactions(chain.node.url)["refused"]
    for_good = [r for r in refused if "unknown key" in r["message"]]
    assert len(for_good) == 1, "the refused vote is broadcast once, not in a loop"
    paced_or_known = ("Can only vote once every 3 seconds", "Duplicate transaction check failed")
    others = [r for r in refused if r not in for_good]
    assert all(any(m in r["message"] for m in paced_or_known) for r in others), others
    assert not on_chain.get((posts[3][0], posts[3][1])), "nothing signed without a key"

    stored = a.records(url)
    assert {key: r["state"] for key, r in stored.items()} == {
        **{v["id"]: "included" for v in votes},
        missing["id"]: "failed",
        stranger["id"]: "failed",
    }
    assert all(r["attempt"] == 1 and r["told"] for r in stored.values() if r["state"] == "included")

    report = wait_showing(lambda: signer_report(url), 20, "the signer's report", signer)
    assert report["actions"]["accounts"] == {
        DEMO_ACCOUNT: {"pending": 0, "included": 3, "failed": 1},
        "someone-else": {"pending": 0, "included": 0, "failed": 1},
    }

    signer.signal(signal.SIGTERM)
    assert signer.popen.wait(10) == 0
    everything = "\n".join(signer.stderr.lines + signer.stdout.lines)
    assert DEMO_WIF not in everything and "signing for @replay-demo" in everything


def signer_report(url: str) -> dict | None:
    async def read(js):
        bucket = await js.key_value(STATUS_BUCKET)
        for key in await bucket.keys():
            report = json.loads((await bucket.get(key)).value)
            if report.get("process") == "signer" and report.get("actions", {}).get("accounts"):
                accounts = report["actions"]["accounts"]
                if accounts.get(DEMO_ACCOUNT, {}).get("pending") == 0:
                    return report
        return None

    return asyncio.run(with_js(WorkerSettings.from_env({"NATS_URL": url}), read))


def test_without_keys_it_says_so_once_and_idles(procs, nats_server):
    signer = procs([BIN / "signer"], env={"NATS_URL": nats_server.url, "PYTHONFAULTHANDLER": "1"})
    signer.stderr.wait_for("STEEM_KEYS is not set: signing nothing; idle", timeout=20)
    signer.signal(signal.SIGTERM)
    try:
        code = signer.popen.wait(10)
    except subprocess.TimeoutExpired:
        signer.signal(signal.SIGABRT)  # faulthandler: every thread's stack on stderr
        signer.popen.wait(5)
        raise AssertionError("no exit on SIGTERM:\n" + "\n".join(signer.stderr.lines)) from None
    assert code == 0
