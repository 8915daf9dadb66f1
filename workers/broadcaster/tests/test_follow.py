import pytest
from broadcaster.blocks import Block
from broadcaster.chain import NodeError
from broadcaster.follow import BLOCK_INTERVAL, POLL_EARLY, POLL_INTERVAL, TipPacer, check_links


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pacer_polls_briskly_until_the_tip_moves_then_waits_for_the_next_block():
    clock = Clock()
    pacer = TipPacer(clock)
    pacer.seen(10)
    assert pacer.delay() == POLL_INTERVAL
    clock.now += 1.0
    pacer.seen(11)  # moved: next block due in BLOCK_INTERVAL
    assert pacer.delay() == pytest.approx(BLOCK_INTERVAL - POLL_EARLY)
    clock.now += BLOCK_INTERVAL - POLL_EARLY
    pacer.seen(11)
    assert pacer.delay() == POLL_INTERVAL  # due now: poll often until it comes
    clock.now += 5
    assert pacer.delay() == POLL_INTERVAL  # late blocks are still polled for


def block(num: int, block_id: str, previous: str) -> Block:
    return Block(num, block_id, previous, "2016-01-01T00:00:00", ())


def test_links_are_checked_by_id_within_a_batch_and_against_the_last_block():
    chain = [block(5, "05a", "04a"), block(6, "06a", "05a"), block(7, "07a", "06a")]
    check_links(chain, "04a")
    check_links(chain, None)
    with pytest.raises(NodeError, match="block 5 follows 04a, but block 4 is 04b"):
        check_links(chain, "04b")
    forked = [chain[0], block(6, "06b", "05b"), chain[2]]
    with pytest.raises(NodeError, match="block 6 follows 05b"):
        check_links(forked, "04a")
