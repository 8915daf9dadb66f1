"""Several batches in flight across real replay nodes: the chain still comes in order.

Each test reads the whole generated chain through a BlockFetcher and checks every block,
by number and by id, in order, against the archive the nodes serve.
"""

import logging
import time

from steem_chain import BlockFetcher, ChainReader, NodePool
from steem_testing.servers import ReplayNode


def read_all(pool: NodePool, chain, ahead: int = 1_000, tip=None) -> tuple[list, list[int]]:
    """Every block from the chain's first to the tip; and how far ahead the fetcher was
    at each hand-over."""
    target = (tip or ChainReader(pool).tip()).irreversible
    fetcher = BlockFetcher(pool, ahead=ahead)
    blocks, aheads, num = [], [], chain.first
    while num <= target:
        span = fetcher.next_span(num, target)
        aheads.append(fetcher.ahead)
        blocks += span.blocks
        num = span.blocks[-1].num + 1
    return blocks, aheads


def assert_whole_chain(blocks, chain) -> None:
    assert [b.num for b in blocks] == list(range(chain.first, chain.last + 1))
    assert [b.id for b in blocks] == [chain.ids[n] for n in range(chain.first, chain.last + 1)]
    assert all(b.previous == a.id for a, b in zip(blocks, blocks[1:], strict=False))


def served(node: ReplayNode) -> int:
    return node.status()["requests_served"]


def blocks_of(pool: NodePool, url: str) -> int:
    return next(n.health.blocks for n in pool.nodes if n.client.url == url)


def test_in_order_with_several_in_flight_and_a_slow_node(replay_node, chain, stop):
    slow = replay_node(chain.path, "--pace", "0", "--latency", "0.4")
    fast = replay_node(chain.path, "--pace", "0", "--latency", "0.02")
    pool = NodePool([slow.url, fast.url], timeout=5, stop=stop, max_in_flight=4)
    blocks, aheads = read_all(pool, chain)
    assert_whole_chain(blocks, chain)
    assert blocks_of(pool, fast.url) > blocks_of(pool, slow.url) > 0  # both, the fast more
    assert max(aheads) <= 1_000


def test_a_flaky_node_costs_no_block(replay_node, chain, stop, caplog):
    flaky = replay_node(
        chain.path, "--pace", "0", "--seed", "3",
        *("--fail-503", "0.15", "--fail-truncate", "0.15", "--fail-rpc-error", "0.15"),
    )  # fmt: skip
    healthy = replay_node(chain.path, "--pace", "0", "--latency", "0.01")
    pool = NodePool([flaky.url, healthy.url], timeout=5, stop=stop, batch_size=20)
    blocks, _ = read_all(pool, chain)
    assert_whole_chain(blocks, chain)
    lines = [r.getMessage() for r in caplog.records if flaky.url in r.getMessage()]
    assert any("HTTP 503" in line for line in lines), lines
    assert any("JSON-RPC error: Internal Error" in line for line in lines), lines
    assert any("truncated or malformed JSON" in line for line in lines), lines


def test_a_node_answering_503_gets_fewer_requests(replay_node, chain, stop, caplog):
    """It is first in STEEM_NODES, yet asked only now and then: after a second 503 in a
    row it is left alone, 0.25 s, then 0.5 s, 1 s...; the other node does the work."""
    caplog.set_level(logging.WARNING)
    busy = replay_node(chain.path, "--pace", "0", "--fail-503", "1")
    other = replay_node(chain.path, "--pace", "0", "--latency", "0.05")
    pool = NodePool([busy.url, other.url], timeout=5, stop=stop, max_in_flight=4)
    started = time.monotonic()
    blocks, _ = read_all(pool, chain)
    elapsed = time.monotonic() - started
    assert_whole_chain(blocks, chain)
    # At most 2 asks at once at first, then one per pause: 0, 0.25, 0.5, 1, 2 s...
    assert served(busy) <= 4 + elapsed, (served(busy), elapsed)
    assert served(other) >= 1_200 / 50
    assert blocks_of(pool, busy.url) == 0
    lines = [r.getMessage() for r in caplog.records]
    assert f"node {busy.url}: HTTP 503" in lines


def test_the_cap_holds_and_the_depth_is_used(replay_node, chain, stop):
    """20 requests of 50 blocks at 0.25 s each: with at most 2 in flight they need at
    least 10 round trips; with 6 they go faster."""
    node = replay_node(chain.path, "--pace", "0", "--latency", "0.25")

    def timed(cap: int) -> float:
        pool = NodePool([node.url], timeout=5, stop=stop, max_in_flight=cap)
        started = time.monotonic()
        blocks, _ = read_all(pool, chain)
        assert_whole_chain(blocks, chain)
        return time.monotonic() - started

    two, six = timed(2), timed(6)
    assert two >= 1_000 / 50 / 2 * 0.25
    assert six < two


def test_a_stuck_request_neither_holds_the_chain_nor_fills_memory(replay_node, chain, stop):
    """Every request to the first node stalls 4 s: the next range is also asked of the
    other node, and meanwhile no more than `ahead` blocks are fetched ahead."""
    stuck = replay_node(chain.path, "--pace", "0", "--fail-stall", "1", "--stall-seconds", "4")
    other = replay_node(chain.path, "--pace", "0", "--latency", "0.02")
    pool = NodePool([stuck.url, other.url], timeout=10, stop=stop, max_in_flight=4)
    pool.primary = pool.nodes[1]  # we follow `other`'s tip (asking `stuck` would stall)
    tip = pool.primary.client.tip()
    pool.saw_tip(pool.primary, tip)
    started = time.monotonic()
    blocks, aheads = read_all(pool, chain, ahead=200, tip=tip)
    assert_whole_chain(blocks, chain)
    assert served(stuck) >= 1
    assert time.monotonic() - started < 4, "the chain waited for the stalled requests"
    assert max(aheads) <= 200
