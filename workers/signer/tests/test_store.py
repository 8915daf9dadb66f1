"""The store on a real nats-server: a request is recorded once, of two writers of one
revision one wins, every write is read back in order, and a write whose answer is lost to
a killed nats-server is known for what it was."""

import asyncio

import nats
from signer.records import CLAIMED, RECEIVED, SIGNED, Record
from signer.store import TxStore

REQUEST = {
    "id": "tester/" + "ab" * 20 + "/0/0",
    "worker": "tester",
    "account": "replay-demo",
    "authority": "posting",
    "operations": [["vote", {"voter": "replay-demo", "author": "a", "permlink": "b", "weight": 1}]],
    "asked_at": "2016-07-17T12:00:00",
}


async def store_of(url: str, writer: str) -> tuple[TxStore, nats.NATS]:
    nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    store = TxStore(nc.jetstream(), writer, replicas=1, stop=asyncio.Event())
    await store.open()
    return store, nc


def test_a_request_is_recorded_once_and_one_of_two_writers_wins(nats_server):
    async def scenario():
        (one, nc1), (two, nc2) = (
            await store_of(nats_server.url, "a"),
            await store_of(nats_server.url, "b"),
        )
        record = Record.from_request(REQUEST)
        created = await one.create(record)
        assert await two.create(record) is None, "seen before: not recorded again"
        mine = await one.update(created, state=CLAIMED, claim={"by": "a"})
        theirs = await two.update(created, state=CLAIMED, claim={"by": "b"})
        latest = await two.read(record.key)
        seen = [(r.state, r.writer.split("#")[0]) for r in await two.changes()]
        await nc1.close()
        await nc2.close()
        return created, mine, theirs, latest, seen

    created, mine, theirs, latest, seen = asyncio.run(scenario())
    assert created.state == RECEIVED and created.revision > 0
    assert mine is not None and theirs is None, "the second write of one revision loses"
    assert (latest.claim, latest.revision) == ({"by": "a"}, mine.revision)
    assert seen == [(CLAIMED, "a")], "the bucket keeps the latest value of each key"


def test_a_write_whose_answer_is_lost_is_read_back(nats_server):
    """nats-server killed just before a write, restarted after it was sent: the write is
    retried or found, never lost and never doubled."""

    async def scenario():
        store, nc = await store_of(nats_server.url, "a")
        created = await store.create(Record.from_request(REQUEST))
        nats_server.kill()
        writing = asyncio.create_task(store.update(created, state=SIGNED, trx_id="cd" * 20))
        await asyncio.sleep(0.5)  # the write waits in nats-py's buffer or times out
        await asyncio.to_thread(nats_server.restarted)  # same port, same store
        done = await asyncio.wait_for(writing, 30)
        latest = await store.read(created.key)
        await nc.close()
        return done, latest

    done, latest = asyncio.run(scenario())
    assert done is not None and done.trx_id == "cd" * 20
    assert (latest.state, latest.writer, latest.revision) == (SIGNED, done.writer, done.revision)
