"""The Follower's rules (pacing, links, forks) on a scripted chain; the same rules with
real nodes are in tests/test_faults_forks.py and tests/test_faults_nodes.py."""

import threading

import pytest
from broadcaster.follow import BLOCK_INTERVAL, POLL_EARLY, POLL_INTERVAL, TipPacer, check_links
from steem_chain import Block, NodeError, Span, Tip


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


class ScriptedChain:
    """A chain whose blocks a test can replace, read like the Follower reads the nodes
    (`ChainSource`): three blocks per span."""

    def __init__(self, blocks: dict[int, Block], head: int) -> None:
        self.chain = blocks
        self.head = head
        self.node = type("Node", (), {"name": "scripted"})()
        self.node_name = "scripted"
        self.several_nodes = False
        self.refused: list[str] = []

    def tip(self) -> Tip:
        return Tip(self.head, self.head)

    def blocks(self, first: int, last: int) -> list[Block]:
        return [self.chain[n] for n in range(first, last + 1)]

    def next_span(self, first: int, target: int) -> Span:
        return Span(self.blocks(first, min(first + 2, target)), self.node)

    def refuse(self, span: Span, err: NodeError) -> None:
        self.refused.append(str(err))

    def leave_node(self) -> None:
        pass


def linked_chain(first: int, last: int, branch: str, previous: str) -> dict[int, Block]:
    chain = {}
    for num in range(first, last + 1):
        chain[num] = block(num, f"{num:02d}{branch}", previous)
        previous = chain[num].id
    return chain


def run_follower(reader, mode: str, next_num: int, known: dict[int, str], until: int):
    from broadcaster.follow import Follower

    stop = threading.Event()
    batches = []

    def emit(batch):
        batches.append(batch)
        if batch.blocks[-1].num >= until:
            stop.set()

    Follower(reader, mode, next_num, known, emit, stop).run()
    return batches


def test_head_mode_fork_is_walked_back_to_the_common_block_and_reported():
    chain_a = linked_chain(1, 6, "a", "00a")
    reader = ScriptedChain(dict(chain_a), head=6)
    known = {n: b.id for n, b in chain_a.items()}
    # Blocks 5 and 6 are replaced; the chain goes on on branch b.
    reader.chain.update(linked_chain(5, 8, "b", chain_a[4].id))
    reader.head = 8
    (batch,) = run_follower(reader, "head", 7, known, until=8)
    assert batch.fork.fork_point == (4, "04a")
    assert batch.fork.abandoned == [(5, "05a"), (6, "06a")]
    assert batch.fork.new_branch == [(5, "05b"), (6, "06b")]
    assert [b.id for b in batch.blocks] == ["05b", "06b", "07b", "08b"]


def test_irreversible_mode_treats_a_mismatch_as_a_broken_node(caplog):
    chain_a = linked_chain(1, 6, "a", "00a")
    known = {6: "06x"}  # what we published as 6 is not what the node has
    reader = ScriptedChain(dict(chain_a), head=6)
    reader.chain[7] = block(7, "07a", "06a")
    reader.head = 7
    from broadcaster.follow import Follower

    stop = threading.Event()
    emitted = []
    asked = []
    fetch = reader.next_span

    def span_then_stop_on_the_second_ask(first, target):
        asked.append(first)
        if len(asked) == 2:
            stop.set()
        return fetch(first, target)

    reader.next_span = span_then_stop_on_the_second_ask
    Follower(reader, "irreversible", 7, known, emitted.append, stop).run()
    assert asked == [7, 7]  # asked again, never skipped
    assert emitted == []  # never published a block that does not link
    assert "sent a broken chain: block 7 follows 06a, but block 6 is 06x" in caplog.text
    assert reader.refused == ["sent a broken chain: block 7 follows 06a, but block 6 is 06x"] * 2
