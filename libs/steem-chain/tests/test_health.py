"""How much a node is asked, as its answers come (the policy alone, on a hand-moved clock;
the same policy against real nodes is in test_fetch.py)."""

import pytest
from steem_chain.health import Health
from steem_chain.reasons import NodeError, Trouble


def health(cap: int = 8) -> Health:
    return Health(cap=cap, max_batch=50, timeout=10.0)


def answer(h: Health, now: float, latency: float = 0.2, blocks: int = 50) -> None:
    h.started(now)
    h.succeeded(now + latency, latency, blocks, asked_at=now)


def fill(h: Health, now: float) -> None:
    """Use every slot, then answer them all: the node kept up with all we asked."""
    slots = h.allowed(now)
    for _ in range(slots):
        h.started(now)
    for _ in range(slots):
        h.succeeded(now + 0.2, 0.2, 50, asked_at=now)


def test_slots_double_each_round_trip_up_to_the_cap_when_all_are_used():
    h = health(cap=8)
    assert h.allowed(0) == 2
    fill(h, 0)
    assert h.allowed(0) == 4
    fill(h, 0)
    assert h.allowed(0) == 8
    fill(h, 0)
    assert h.allowed(0) == 8  # the cap


def test_slots_do_not_grow_when_we_did_not_use_them():
    h = health()
    for second in range(20):
        h.started(second)  # one request at a time: 2 slots are plenty
        h.succeeded(second + 0.2, 0.2, 50, asked_at=second)
    assert h.allowed(0) == 2


def test_a_queueing_node_gets_fewer_slots():
    h = health()
    fill(h, 0)
    fill(h, 0)
    assert h.allowed(0) == 8
    for _ in range(10):
        answer(h, 0, latency=1.5)  # its latency went from 0.2 s to 1.5 s: it queues us
    assert h.queueing() and h.allowed(0) < 8


def test_a_failure_halves_the_slots_and_a_timeout_the_batch_too():
    h = health()
    fill(h, 0)
    fill(h, 0)
    h.started(0)
    h.failed(0, NodeError("JSON-RPC error: Internal Error"))
    assert (h.allowed(0), h.batch) == (4, 50)
    h.started(0)
    h.failed(0, NodeError("timed out after 10 s", Trouble.SLOW))
    assert (h.allowed(0), h.batch) == (2, 25)
    answer(h, 0, latency=0.2, blocks=25)
    assert h.batch == 35  # quick again: back up by a fifth of FETCH_BATCH_SIZE


def test_after_a_failure_the_slots_double_again_up_to_half_of_what_they_were():
    h = health(cap=16)
    for t in range(4):
        fill(h, t)
    assert h.allowed(4) == 16
    h.started(4)
    h.failed(4, NodeError("host name not found", Trouble.DOWN))
    assert h.allowed(10) == 1
    fill(h, 10)
    fill(h, 11)
    fill(h, 12)
    assert h.allowed(13) == 8  # 1, 2, 4, 8: doubling up to half of 16
    fill(h, 13)
    fill(h, 14)
    assert h.allowed(15) == 9  # then one more per round trip


def test_429_or_503_one_request_at_a_time_and_a_pause_when_it_goes_on():
    h = health()
    fill(h, 0)
    h.started(0)
    h.failed(0, NodeError("HTTP 503", Trouble.THROTTLED))
    assert h.allowed(0) == 1 and not h.paused(0)  # one 503: a hint
    h.started(0)
    h.failed(0, NodeError("HTTP 503", Trouble.THROTTLED))
    assert h.paused(0.2) and not h.paused(0.3)  # two in a row: 0.25 s
    h.started(0)
    h.failed(0.3, NodeError("HTTP 503", Trouble.THROTTLED))
    assert h.paused(0.7) and not h.paused(0.9)  # then 0.5 s
    answer(h, 1)
    assert h.allowed(1) == 1  # cooling down: one at a time, whatever it grew back to
    assert h.allowed(200) == 2  # cooled down: it grew back doubling, to half of 4
    fill(h, 200)
    assert h.allowed(201) == 2 and 2.5 < h.limit < 3  # from there, one more per round trip


def test_retry_after_is_obeyed():
    h = health()
    h.started(0)
    h.failed(0, NodeError("HTTP 429 (retry after 30 s)", Trouble.THROTTLED, retry_after=30))
    assert h.paused(29.9) and not h.paused(30.1)


@pytest.mark.parametrize("reason", ["host name not found", "connection refused"])
def test_an_unreachable_node_is_left_alone_one_then_two_seconds(reason):
    h = health()
    h.started(0)
    h.failed(0, NodeError(reason, Trouble.DOWN))
    assert h.paused(0.9) and not h.paused(1.1)
    h.started(0)
    h.failed(1.1, NodeError(reason, Trouble.DOWN))
    assert h.paused(3.0) and not h.paused(3.2)


def test_a_refused_request_is_not_the_node_s_fault():
    h = health()
    h.started(0)
    h.failed(0, NodeError("JSON-RPC error: Invalid parameters", Trouble.REFUSED))
    assert (h.allowed(0), h.failures, h.in_flight) == (2, 0, 0)
