"""Head mode: a fork drops the block that held a transaction. The signer takes the
request back to `signed` (the same transaction, broadcast again) and tells `included`
again once the new branch holds it. On a real nats-server; no node is asked."""

import asyncio
import json

import nats
from ipc_config import TX_STREAM_NAME, WorkerSettings
from signer.engine import Engine, Identity
from signer.keys import KeyRing
from signer.outcomes import Outcomes
from signer.records import INCLUDED, SIGNED, Record
from signer.settings import SignerSettings
from signer.store import TxStore
from signer.view import View
from steem_testing.jetstream import stream_messages
from steem_worker.connection import ensure_streams

TRX = "ab" * 20
REQUEST = {
    "id": "tester/" + "cd" * 20 + "/0/0",
    "worker": "tester",
    "account": "replay-demo",
    "operations": [["vote", {"voter": "replay-demo", "author": "a", "permlink": "b", "weight": 1}]],
}


def block(num: int, branch: str, *trx_ids: str) -> dict:
    return {
        "block_num": num,
        "block_id": f"{num:08x}{branch * 32}",
        "transaction_ids": list(trx_ids),
    }


def test_a_fork_sends_an_included_transaction_back_and_the_new_branch_includes_it(nats_server):
    async def scenario():
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await ensure_streams(js, WorkerSettings.from_env({"NATS_URL": nats_server.url}))
        store = TxStore(js, "t", replicas=1, stop=asyncio.Event())
        await store.open()
        view = View()
        settings = SignerSettings.from_env({"NATS_URL": nats_server.url})
        engine = Engine(settings, KeyRing(), None, store, view, Outcomes(js, store, view),
                        Identity.mine("t"))  # fmt: skip
        created = await store.create(Record.from_request(REQUEST))
        signed = await engine.write(created, state=SIGNED, trx={"signatures": []}, trx_id=TRX,
                                    expiration="2016-07-17T23:17:09", signed_head=9,
                                    signed_head_time="2016-07-17T23:16:09")  # fmt: skip
        assert signed is not None
        await engine.saw_block(block(10, "a", "ef" * 20, TRX))  # the old branch holds it
        first = await store.read(REQUEST["id"])
        fork = {"fork_point": {"block_num": 9, "block_id": "x"},
                "abandoned": [block(10, "a")], "new_branch": [block(10, "b")]}  # fmt: skip
        await engine.saw_fork(fork)
        back = await store.read(REQUEST["id"])
        await engine.saw_block(block(10, "b"))  # the new block 10 lacks it
        await engine.saw_block(block(11, "b", TRX))  # block 11 holds it
        last = await store.read(REQUEST["id"])
        await nc.close()
        return first, back, last

    first, back, last = asyncio.run(scenario())
    assert (first.state, first.block_num, first.told) == (INCLUDED, 10, True)
    assert (back.state, back.trx_id, back.block_id) == (SIGNED, TRX, "")
    assert (last.state, last.block_num, last.block_id[8:10]) == (INCLUDED, 11, "bb")
    told = [json.loads(m.data) for m in asyncio.run(stream_messages(nats_server.url, TX_STREAM_NAME))
            if m.subject == "steem.tx.included.tester"]  # fmt: skip
    assert [(t["block_num"], t["trx_id"]) for t in told] == [(10, TRX), (11, TRX)]
