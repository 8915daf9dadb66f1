"""Catching up with several batches in flight across nodes, against real replay nodes and
a real nats-server: every block once and in order, whatever the nodes do."""

import re
import signal

from replay_node.archive import load_archive
from replay_node.generate import generate_archive
from steem_testing.oracle import expected_messages, first_difference, stored
from steem_testing.paths import BIN
from steem_testing.servers import node_status
from steem_testing.waiting import wait_until


def test_a_slow_a_throttling_and_a_fast_node_every_block_once_in_order(
    tmp_path, nats_server, replay_node, procs, read_stream, last_block
):
    archive = tmp_path / "chain.jsonl"
    summary = generate_archive(archive, count=1_500, start=2_000, seed=21)
    slow = replay_node(archive, "--pace", "0", "--latency", "0.3")
    throttling = replay_node(
        archive, "--pace", "0", "--latency", "0.05", "--fail-503", "0.3", "--seed", "2"
    )
    fast = replay_node(archive, "--pace", "0", "--latency", "0.05")
    nodes = [slow.url, throttling.url, fast.url]
    env = {
        "NATS_URL": nats_server.url,
        "STEEM_NODES": ",".join(nodes),
        "START_BLOCK": "2000",
        "FETCH_BATCH_SIZE": "20",
        "NODE_MAX_IN_FLIGHT": "4",
    }
    broadcaster = procs([BIN / "broadcaster"], env=env)
    wait_until(lambda: last_block(nats_server.url) == summary["last"], 90, "the last block")
    broadcaster.signal(signal.SIGTERM)
    assert broadcaster.popen.wait(5) == 0

    got, want = (
        stored(read_stream(nats_server.url)),
        expected_messages(load_archive(archive, virtual_ops=True)),
    )
    assert got == want, first_difference(got, want)
    log = broadcaster.stderr.text()
    assert "Traceback" not in log
    assert re.search(rf"WARNING node {re.escape(throttling.url)}: HTTP 503$", log, re.M)
    settled = re.search(r"INFO settled on, to catch up at \d+ blocks/s: (.*)$", log, re.M)
    assert settled, log[-2000:]
    assert all(url in settled.group(1) for url in nodes), settled.group(1)  # all three used
    assert all(node_status(url)["requests_served"] > 3 for url in nodes)
