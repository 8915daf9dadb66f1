"""The broadcaster against a real nats-server and the replay node over HTTP."""

import json
import signal

import pytest
from replay_node.archive import load_archive, write_archive
from replay_node.generate import generate_archive
from steem_testing.oracle import comment_states, expected_messages, stored
from steem_testing.paths import BIN, MAINNET
from steem_testing.waiting import wait_until

REAL_BLOCKS = MAINNET / "steem-blocks"


def broadcaster_env(nats_url: str, node_url: str, **extra: str) -> dict[str, str]:
    return {"NATS_URL": nats_url, "STEEM_NODES": node_url, "NODE_TIMEOUT": "5", **extra}


@pytest.mark.parametrize(
    "fixture",
    [
        "appbase/3286849.json",
        "appbase/5771683.json",
        "appbase/6531076.json",
        "condenser/4000001.json",
    ],
)
def test_every_op_of_a_real_block_arrives_on_its_subject_with_its_headers(
    fixture, tmp_path, nats_server, replay_node, procs, read_stream, last_block
):
    archive = tmp_path / "real.jsonl"
    write_archive(load_archive(REAL_BLOCKS / fixture), archive)
    (block,) = load_archive(archive, virtual_ops=True)  # as the node serves it: appbase shape
    num = int(block["block_id"][:8], 16)
    node = replay_node(archive, "--pace", "0")
    broadcaster = procs(
        [BIN / "broadcaster"], env=broadcaster_env(nats_server.url, node.url, START_BLOCK=str(num))
    )
    wait_until(lambda: last_block(nats_server.url) == num, 30, f"block {num} in the stream")
    broadcaster.signal(signal.SIGTERM)
    assert broadcaster.popen.wait(5) == 0

    messages = read_stream(nats_server.url)
    assert stored(messages) == expected_messages([block])
    ops = [(t, op) for t, trx in enumerate(block["transactions"]) for op in trx["operations"]]
    for message, (t, op) in zip(messages, ops, strict=False):
        assert json.loads(message.data) == op["value"]
        assert message.headers["Steem-Block-Num"] == str(num)
        assert message.headers["Steem-Block-Id"] == block["block_id"]
        assert message.headers["Steem-Trx-Id"] == block["transaction_ids"][t]
        assert message.headers["Steem-Timestamp"] == block["timestamp"]
    # What each comment did, as the chain tells: every one of a real block creates.
    states = {m.headers["Nats-Msg-Id"]: m.headers.get("Steem-Comment") for m in messages}
    want = comment_states([block])
    assert want and {k: states[k] for k in want} == want
    assert all(v == "created" for v in want.values())
    closing = json.loads(messages[-1].data)
    assert closing == {
        "block_num": num,
        "block_id": block["block_id"],
        "previous": block["previous"],
        "timestamp": block["timestamp"],
        "op_count": len(ops),
        "vop_count": 0,
        "transaction_ids": block["transaction_ids"],
    }


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM])
def test_a_restarted_broadcaster_resumes_without_loss_or_duplicates(
    stop_signal, tmp_path, nats_server, replay_node, procs, read_stream, last_block
):
    archive = tmp_path / "chain.jsonl"
    summary = generate_archive(archive, count=400, start=1000, seed=7)
    blocks = load_archive(archive, virtual_ops=True)
    node = replay_node(archive, "--pace", "0")
    env = broadcaster_env(nats_server.url, node.url, START_BLOCK="1000", FETCH_BATCH_SIZE="7")

    first = procs([BIN / "broadcaster"], env=env)
    wait_until(lambda: (last_block(nats_server.url) or 0) >= 1150, 60, "block 1150", every=0.005)
    first.signal(stop_signal)
    first.popen.wait(5)
    stopped_at = last_block(nats_server.url)
    assert stopped_at < summary["last"], "stopped too late to test a resume"

    second = procs([BIN / "broadcaster"], env=env)
    second.stderr.wait_for(rf"resuming after block {stopped_at} ")
    wait_until(lambda: last_block(nats_server.url) == summary["last"], 60, "the last block")
    second.stop()

    assert stored(read_stream(nats_server.url)) == expected_messages(blocks)


def test_with_virtual_ops_off_the_stream_holds_the_operations_alone(pipeline, read_stream):
    chain = pipeline(None, env={"VIRTUAL_OPS": "false"})  # the bundled sample has rewards
    chain.wait_for_last_block()
    without = [{k: v for k, v in block.items() if k != "virtual_ops"} for block in chain.blocks]
    assert any(block["virtual_ops"] for block in chain.blocks)
    assert stored(read_stream(chain.nats.url)) == expected_messages(without)
