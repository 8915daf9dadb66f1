"""Head mode and micro-forks.

The replay node runs inside the test (so the test moves its head): the broadcaster, in
STREAM_MODE=head, publishes blocks up to N; then the node switches to another branch for
blocks N-2..N and goes on to N+1. The broadcaster must notice that N+1 does not follow
the N it published, publish one `steem.fork` message naming the fork point, the abandoned
blocks and the new branch (Nats-Msg-Id `fork/<first new block id>`), then publish the new
branch like any block (other block ids, so other message ids). In irreversible mode the
same node never shows the broadcaster a block that a fork replaces.
"""

import asyncio
import json

import pytest
from ipc_config import WorkerSettings
from ipc_config.chain import block_num_of, post_url
from replay_node.archive import load_archive
from replay_node.generate import generate_archive
from replay_node.node import ReplayNode
from steem_testing.jetstream import serve_until
from steem_testing.oracle import expected_messages, first_difference, new_posts, stored
from steem_testing.paths import BIN
from steem_testing.waiting import wait_until
from steem_worker import Worker

FIRST, BLOCKS, FORK_AT, DEPTH, LAG = 10_000_000, 40, 10_000_020, 3, 4


def served_chain(node: ReplayNode) -> list[dict]:
    """Every block as the node serves it now (after the fork: the new branch)."""
    return [
        node.served_block(n, virtual_ops=True) for n in range(node.first_block, node.last_block + 1)
    ]


def start_broadcaster(procs, nats_url: str, node: ReplayNode, mode: str):
    env = {
        "NATS_URL": nats_url,
        "STEEM_NODES": node.url,
        "START_BLOCK": str(FIRST),
        "STREAM_MODE": mode,
        "FETCH_BATCH_SIZE": "10",
    }
    return procs([BIN / "broadcaster"], env=env)


@pytest.fixture
def forking_chain(tmp_path, in_process_node):
    archive = tmp_path / "chain.jsonl"
    generate_archive(archive, count=BLOCKS, start=FIRST, seed=6)
    old = load_archive(archive, virtual_ops=True)
    node = in_process_node(
        archive=archive,
        pace=0,
        start_blocks=FORK_AT - FIRST + 1,  # the head is at the fork's last block
        irreversible_lag=LAG,
        forks=[FORK_AT],
        fork_depth=DEPTH,
    )
    return old, node


def test_head_mode_publishes_a_fork_event_and_the_new_branch(
    forking_chain, procs, nats_server, read_stream, last_block, tmp_path
):
    old, node = forking_chain
    broadcaster = start_broadcaster(procs, nats_server.url, node, "head")
    wait_until(lambda: last_block(nats_server.url) == FORK_AT, 30, f"block {FORK_AT} (old branch)")

    node.advance()  # the node switches branch; its head is FORK_AT + 1
    (fork,) = node.status()["forks"]
    assert fork["done"]
    try:
        wait_until(
            lambda: last_block(nats_server.url) == FORK_AT + 1 or not broadcaster.alive,
            15,
            f"block {FORK_AT + 1}, which follows the new branch",
        )
    except AssertionError as err:
        tail = "\n".join(broadcaster.stderr.lines[-8:])
        pytest.fail(f"{err}; the stream stopped at {last_block(nats_server.url)}:\n{tail}")
    node.advance(BLOCKS)  # and on to the end
    wait_until(
        lambda: last_block(nats_server.url) == FIRST + BLOCKS - 1 or not broadcaster.alive,
        30,
        "the last block",
    )
    messages = read_stream(nats_server.url)
    log = broadcaster.stderr.text()
    assert "Traceback" not in log, log[-3000:]

    new = served_chain(node)
    published_before = old[: FORK_AT - FIRST + 1]
    after = new[FORK_AT - DEPTH + 1 - FIRST :]
    fork_id = f"fork/{fork['new_branch'][0]['block_id']}"
    want = expected_messages(published_before) + [("steem.fork", fork_id)]
    want += expected_messages(after)
    got = stored(messages)
    assert got == want, (
        "expected: the old branch up to the fork, one steem.fork, then the new branch: "
        + first_difference(got, want)
        + f"\nbroadcaster log:\n{log[-2500:]}"
    )

    (event,) = [m for m in messages if m.subject == "steem.fork"]
    assert json.loads(event.data) == {
        "fork_point": fork["fork_point"],
        "abandoned": fork["abandoned"],
        "new_branch": fork["new_branch"],
    }
    assert fork["fork_point"]["block_num"] == FORK_AT - DEPTH
    assert [b["block_num"] for b in fork["abandoned"]] == list(
        range(FORK_AT - DEPTH + 1, FORK_AT + 1)
    )
    n_old = len(expected_messages(published_before))
    old_ids = {m.headers["Nats-Msg-Id"] for m in messages[:n_old]}
    new_ids = {m.headers["Nats-Msg-Id"] for m in messages[n_old + 1 :]}
    assert not old_ids & new_ids, "the new branch's operations need other message ids"

    # A worker of new posts hears each once, although the fork published the abandoned
    # blocks' posts again in the new branch (same transactions, other blocks).
    posts = asyncio.run(new_posts_heard(nats_server.url, tmp_path, FIRST + BLOCKS - 1))
    assert posts == [url for url, _ in new_posts(published_before + after)]
    assert len(posts) == len(set(posts))
    # A fork-aware worker, reading that stream, ends with the chain as it is now.
    view, forks = asyncio.run(fork_aware_view(nats_server.url, tmp_path, FIRST + BLOCKS - 1))
    assert forks == [[b["block_num"] for b in fork["abandoned"]]]
    assert view == {
        block_num_of(block["block_id"]): [
            f"{block['block_id']}/{t}/{o}"
            for t, trx in enumerate(block["transactions"])
            for o, _ in enumerate(trx["operations"])
        ]
        for block in new
    }


async def new_posts_heard(url: str, folder, last: int) -> list[str]:
    """The posts a worker of new posts (`on_new_post`, the kit's defaults) hears."""
    worker, heard, closed = Worker("posts"), [], []

    @worker.on_new_post
    async def post(op, meta):
        heard.append(post_url(op["author"], op["permlink"]))

    @worker.on_block
    async def block_closed(block, meta):
        closed.append(block["block_num"])

    settings = WorkerSettings.from_env({"NATS_URL": url, "WORKER_STATE_DIR": str(folder)})
    await serve_until(worker, settings, lambda: closed[-1:] == [last])
    return heard


async def fork_aware_view(url: str, folder, last: int) -> tuple[dict[int, list[str]], list]:
    """What a worker that follows forks (on_fork) knows once it read the stream to `last`:
    the operations of each block, those of abandoned blocks forgotten."""
    # It undoes what abandoned blocks did, so it wants the operations a fork re-includes.
    worker, view, forks, closed = Worker("fork-aware", once_per_operation=False), {}, [], []

    @worker.on_subject("steem.op.>")
    async def operation(op, meta):
        view.setdefault(meta.block_num, []).append(meta.msg_id)

    @worker.on_block
    async def block_closed(block, meta):
        view.setdefault(block["block_num"], [])
        closed.append(block["block_num"])

    @worker.on_fork
    async def forked(fork, meta):
        abandoned = [b["block_num"] for b in fork["abandoned"]]
        forks.append(abandoned)
        for num in abandoned:
            view.pop(num, None)

    settings = WorkerSettings.from_env({"NATS_URL": url, "WORKER_STATE_DIR": str(folder)})
    await serve_until(worker, settings, lambda: closed[-1:] == [last])
    return view, forks


def test_irreversible_mode_never_sees_the_abandoned_branch(
    forking_chain, procs, nats_server, read_stream, last_block
):
    old, node = forking_chain
    broadcaster = start_broadcaster(procs, nats_server.url, node, "irreversible")
    lib = FORK_AT - LAG
    wait_until(lambda: last_block(nats_server.url) == lib, 30, f"the irreversible block {lib}")
    node.advance()
    node.advance(BLOCKS + LAG)
    wait_until(
        lambda: last_block(nats_server.url) == FIRST + BLOCKS - 1 or not broadcaster.alive,
        30,
        "the last block",
    )
    messages = read_stream(nats_server.url)
    assert "Traceback" not in broadcaster.stderr.text()
    got, want = stored(messages), expected_messages(served_chain(node))
    assert got == want, "irreversible blocks never change: " + first_difference(got, want)
    assert not [m for m in messages if m.subject == "steem.fork"]
