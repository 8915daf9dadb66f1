"""Failover and what the log says, with nodes that are really down, slow or back."""

import logging
import re
import threading

from steem_chain import ChainReader, NodeError, NodePool, Stopped
from steem_chain.pool import OFFLINE_HINT
from steem_testing.servers import free_port
from steem_testing.waiting import wait_until

QUICK_ROUNDS = (0.2, 0.4)  # rounds of 0.2 s, then 0.4 s: the same policy, sooner


def log_lines(caplog) -> list[str]:
    return [
        f"{r.levelname} {r.getMessage()}"
        for r in caplog.records
        if r.name.startswith("steem_chain")
    ]


def test_without_internet_the_first_round_says_so_and_later_rounds_one_line_each(caplog, stop):
    """No node can be reached: one line per node, then the hint, once; each later round
    is one line; no urllib3 chain anywhere. A node that comes back is said in one line."""
    caplog.set_level(logging.INFO)
    back_port = free_port()
    urls = [
        "http://no-such-node.invalid",
        f"http://127.0.0.1:{free_port()}",
        f"http://127.0.0.1:{back_port}",
    ]
    pool = NodePool(urls, timeout=2, stop=stop, round_backoff=QUICK_ROUNDS)
    reader = ChainReader(pool)
    thread = threading.Thread(target=lambda: _until_stopped(reader.tip), daemon=True)
    thread.start()
    wait_until(
        lambda: sum("still no Steem node" in line for line in log_lines(caplog)) >= 3,
        20,
        "3 rounds",
    )
    stop.set()
    thread.join(5)
    lines = log_lines(caplog)
    first_round = lines[:4]
    assert first_round[:3] == [
        "WARNING node http://no-such-node.invalid: host name not found",
        f"WARNING node {urls[1]}: connection refused",
        f"WARNING node {urls[2]}: connection refused",
    ]
    assert first_round[3].startswith("ERROR no Steem node gave a usable answer (tried ")
    assert first_round[3].endswith(OFFLINE_HINT)
    later = lines[4:]
    assert all(line.startswith("WARNING still no Steem node answers after ") for line in later)
    assert re.search(
        r"after 2 rounds \(http://no-such-node.invalid: host name not found; .*"
        r"connection refused; .*connection refused\); retrying in 0.4 s",
        later[0],
    )
    assert sum(OFFLINE_HINT in line for line in lines) == 1
    assert not any(
        re.search(r"urllib3|HTTPConnectionPool|Max retries|Traceback", line) for line in lines
    )


def test_a_node_that_comes_back_ends_the_outage_in_one_line(caplog, stop, replay_node, chain):
    caplog.set_level(logging.INFO)
    port = free_port()
    pool = NodePool([f"http://127.0.0.1:{port}"], timeout=2, stop=stop, round_backoff=QUICK_ROUNDS)
    reader = ChainReader(pool)
    tips = []
    thread = threading.Thread(target=lambda: tips.append(_until_stopped(reader.tip)), daemon=True)
    thread.start()
    wait_until(
        lambda: any("still no Steem node" in line for line in log_lines(caplog)), 20, "a round"
    )
    replay_node(chain.path, "--pace", "0", "--port", str(port))
    thread.join(20)
    assert tips and tips[0].irreversible == chain.last
    assert log_lines(caplog)[-1].startswith(
        f"INFO node http://127.0.0.1:{port} answers again, after "
    )


def test_a_read_goes_to_the_next_node_and_the_failure_is_one_line(caplog, stop, replay_node, chain):
    caplog.set_level(logging.INFO)
    node = replay_node(chain.path, "--pace", "0")
    refused = f"http://127.0.0.1:{free_port()}"
    reader = ChainReader(NodePool([refused, node.url], timeout=2, stop=stop))
    props = reader.dynamic_global_properties()
    assert props["head_block_number"] == chain.last
    assert log_lines(caplog) == [f"WARNING node {refused}: connection refused"]
    reader.dynamic_global_properties()  # the refused node is left alone for a while
    assert len(log_lines(caplog)) == 1


def _until_stopped(read):
    try:
        return read()
    except Stopped:
        return None


def test_requests_in_flight_together_that_fail_together_are_one_line(caplog, stop):
    """Several requests to a node that stops answering fail at once: one line, not one
    per request; a different failure of the same node is said again."""
    caplog.set_level(logging.INFO)
    url = f"http://127.0.0.1:{free_port()}"
    other = f"http://127.0.0.1:{free_port()}"
    pool = NodePool([url, other], timeout=2, stop=stop)
    node = pool.nodes[0]
    for _ in range(3):
        node.health.started(0)
        pool.failed(node, NodeError("connection refused"))
    node.health.started(0)
    pool.failed(node, NodeError("timed out after 2 s"))
    assert log_lines(caplog) == [
        f"WARNING node {url}: connection refused",
        f"WARNING node {url}: timed out after 2 s",
    ]
