"""Bad nodes: every way a Steem API node can fail, in one STEEM_NODES list.

First the broadcaster publishes the first 40 blocks from a healthy node and stops (so the
stream holds a checkpoint). Then it resumes with, in this order:

1. a URL nobody listens on (connection refused);
2. a node that lags behind: its head is below our checkpoint;
3. a flaky node: HTTP 503, truncated JSON, JSON-RPC errors and stalls past NODE_TIMEOUT,
   each on a share of the requests (a seed whose first failures are of all four kinds);
4. a node that answers "no such block" (null) for blocks it claims to have;
5. a node that sends blocks whose `previous` is not the id of the block before.

Every block must arrive exactly once, in order; each node's failure is logged with the
node and the reason; a block is never skipped.
"""

import re
import signal

import pytest
from replay_node.archive import load_archive
from replay_node.faults import Faults, fault_plan
from replay_node.generate import generate_archive
from steem_testing.oracle import count_ops, expected_messages, first_difference, stored
from steem_testing.paths import BIN
from steem_testing.plugin import report
from steem_testing.servers import free_port
from steem_testing.waiting import wait_until

FIRST, BLOCKS, CHECKPOINT = 9_000_000, 120, 9_000_039
NULL_BLOCKS = [FIRST + n for n in range(44, BLOCKS, 8)]
CORRUPT_BLOCKS = [FIRST + n for n in range(48, BLOCKS, 8)]
BEHIND = BLOCKS - 35  # that node's head: FIRST + 34, below the checkpoint
FLAKY = dict(fail_503=0.15, fail_truncate=0.15, fail_rpc_error=0.15, fail_stall=0.15)
FAILURE_KINDS = ("http_503", "truncated", "rpc_error", "stall")


def flaky_seed() -> int:
    """The first seed whose first four failing requests fail in four different ways."""
    for seed in range(1000):
        failures = [o for o in fault_plan(Faults(seed=seed, **FLAKY), 40) if o != "ok"]
        if len(set(failures[:4])) == 4:
            return seed
    raise AssertionError("no seed found")


# What a log line must say about each node, besides its URL.
REASONS = {
    "refused": r"(?i)refused",
    "behind": r"(?i)\bbehind\b",
    "http_503": r"503|Service (Temporarily )?Unavailable",
    "truncated": r"(?i)JSON|Expecting|Unterminated|invalid format",
    "rpc_error": r"Internal Error",
    "stall": r"(?i)time(d)? ?out",
    "null": r"(?i)\b(empty|null|missing|no block)\b",
    "corrupt": r"(?i)\b(previous|follows|link|broken chain)\b",
}


def node_lines(log: str, url: str) -> list[str]:
    """Warnings and errors that name this node (not the lines listing every node)."""
    return [
        line
        for line in log.splitlines()
        if url in line and re.search(r" (WARNING|ERROR) ", line) and "tried " not in line
    ]


def broadcaster(procs, nats_url: str, nodes: list[str]):
    env = {
        "NATS_URL": nats_url,
        "STEEM_NODES": ",".join(nodes),
        "START_BLOCK": str(FIRST),
        "NODE_TIMEOUT": "1",
        "FETCH_BATCH_SIZE": "4",
    }
    return procs([BIN / "broadcaster"], env=env)


def test_every_block_arrives_once_from_a_list_of_bad_nodes(
    tmp_path, procs, nats_server, replay_node, read_stream, last_block, request
):
    archive = tmp_path / "chain.jsonl"
    generate_archive(archive, count=BLOCKS, start=FIRST, seed=4)
    blocks = load_archive(archive, virtual_ops=True)
    last = FIRST + BLOCKS - 1

    # Phase 1: a checkpoint in the stream, from a healthy node that has 40 blocks.
    healthy = replay_node(archive, "--pace", "0", "--start-blocks", str(CHECKPOINT - FIRST + 1))
    first = broadcaster(procs, nats_server.url, [healthy.url])
    wait_until(lambda: last_block(nats_server.url) == CHECKPOINT, 30, "the checkpoint")
    first.signal(signal.SIGTERM)
    assert first.popen.wait(10) == 0

    # Phase 2: the bad nodes.
    seed = flaky_seed()
    refused = f"http://127.0.0.1:{free_port()}"
    behind = replay_node(archive, "--pace", "0", "--behind", str(BEHIND))
    flaky = replay_node(
        archive,
        *("--pace", "0", "--seed", str(seed), "--stall-seconds", "3"),
        *("--fail-503", "0.15", "--fail-truncate", "0.15"),
        *("--fail-rpc-error", "0.15", "--fail-stall", "0.15"),
    )
    nulls = replay_node(archive, "--pace", "0", "--null-blocks", ",".join(map(str, NULL_BLOCKS)))
    corrupt = replay_node(
        archive, "--pace", "0", "--corrupt-previous", ",".join(map(str, CORRUPT_BLOCKS))
    )
    nodes = [refused, behind.url, flaky.url, nulls.url, corrupt.url]
    second = broadcaster(procs, nats_server.url, nodes)
    second.stderr.wait_for(rf"resuming after block {CHECKPOINT}\b", timeout=20)
    wait_until(
        lambda: last_block(nats_server.url) == last or not second.alive, 120, f"block {last}"
    )
    messages = read_stream(nats_server.url)
    second.signal(signal.SIGTERM)
    rc = second.wait(10)
    log = second.stderr.text()
    (tmp_path / "broadcaster.log").write_text(log)

    injected = {
        name: node.status()["faults_injected"]
        for name, node in (("flaky", flaky), ("nulls", nulls), ("corrupt", corrupt))
    }
    report(
        request,
        "bad nodes",
        {
            "blocks": BLOCKS,
            "operations": count_ops(blocks),
            "flaky seed": seed,
            "flaky faults": {k: injected["flaky"][k] for k in FAILURE_KINDS},
            "null answers": injected["nulls"]["null_block"],
            "corrupt answers": injected["corrupt"]["corrupt_previous"],
            "warnings": sum(" WARNING " in line for line in log.splitlines()),
            "log": tmp_path / "broadcaster.log",
        },
    )

    problems = []
    got, want = stored(messages), expected_messages(blocks)
    if got != want:
        problems.append("every block must arrive once, in order: " + first_difference(got, want))
    if rc != 0 or "Traceback" in log:
        problems.append(f"the broadcaster exited {rc} on SIGTERM / crashed:\n{log[-2000:]}")

    def expect(url: str, what: str, reason: str, number: int | None = None) -> None:
        lines = node_lines(log, url)
        if not any(re.search(reason, line) for line in lines):
            problems.append(
                f"no log line names {url} ({what}) with a reason matching {reason!r}; "
                f"its lines: {lines[:6]}"
            )
        elif number is not None and not any(str(number) in line for line in lines):
            problems.append(f"no log line for {url} ({what}) names block {number}: {lines[:6]}")

    expect(refused, "refuses connections", REASONS["refused"])
    expect(behind.url, "lags behind our checkpoint", REASONS["behind"])
    for kind in FAILURE_KINDS:
        if injected["flaky"][kind] == 0:
            problems.append(f"the flaky node never failed with {kind}: the test did not test it")
        else:
            expect(flaky.url, kind, REASONS[kind])
    if injected["nulls"]["null_block"] == 0:
        problems.append("the node with null blocks was never asked for one")
    else:
        expect(nulls.url, "null for a block it has", REASONS["null"])
    if injected["corrupt"]["corrupt_previous"] == 0:
        problems.append("the node with broken links never sent one")
    else:
        expect(corrupt.url, "a block whose previous does not link", REASONS["corrupt"])
    assert not problems, "\n".join(problems) + f"\n(whole log: {tmp_path / 'broadcaster.log'})"


def test_a_node_whose_block_does_not_link_is_never_believed(
    tmp_path, procs, nats_server, replay_node, read_stream, last_block
):
    """The only node that has block N sends it with a wrong `previous`: the broadcaster
    must stop before N (and say why) rather than publish a chain that does not link, and
    carry on as soon as a node sends the right block."""
    archive = tmp_path / "chain.jsonl"
    generate_archive(archive, count=30, start=FIRST, seed=5)
    blocks = load_archive(archive, virtual_ops=True)
    bad = FIRST + 15
    corrupt = replay_node(archive, "--pace", "0", "--corrupt-previous", str(bad))
    proc = procs(
        [BIN / "broadcaster"],
        env={
            "NATS_URL": nats_server.url,
            "STEEM_NODES": corrupt.url,
            "START_BLOCK": str(FIRST),
            "FETCH_BATCH_SIZE": "4",
        },
    )
    proc.stderr.wait_for(rf"{re.escape(corrupt.url)}.*\b{bad}\b", timeout=30)
    proc.stderr.wait_for(
        rf"{re.escape(corrupt.url)}.*\b{bad}\b", timeout=10, start=len(proc.stderr.lines)
    )
    assert (last_block(nats_server.url) or 0) < bad, (
        f"block {bad} was published though it does not link"
    )
    good = replay_node(archive, "--pace", "0")
    proc.stop()
    proc = procs(
        [BIN / "broadcaster"],
        env={
            "NATS_URL": nats_server.url,
            "STEEM_NODES": f"{corrupt.url},{good.url}",
            "FETCH_BATCH_SIZE": "4",
        },
        name="broadcaster-again",
    )
    wait_until(lambda: last_block(nats_server.url) == FIRST + 29, 30, "the last block")
    got, want = stored(read_stream(nats_server.url)), expected_messages(blocks)
    assert got == want, first_difference(got, want)


def test_a_node_that_stops_advancing_at_our_position_is_left_for_one_that_goes_on(
    tmp_path, procs, nats_server, replay_node, read_stream, last_block
):
    """A node that stopped syncing lags behind too, though its head is not below our
    checkpoint once we have caught up with it: the broadcaster must not wait on it for
    ever while another node has newer blocks (here: within 30 s, 10 block intervals)."""
    archive = tmp_path / "chain.jsonl"
    generate_archive(archive, count=30, start=FIRST, seed=8)
    blocks = load_archive(archive, virtual_ops=True)
    stuck = replay_node(archive, "--pace", "0", "--behind", "10")  # its head: FIRST + 19
    healthy = replay_node(archive, "--pace", "0")
    proc = broadcaster(procs, nats_server.url, [stuck.url, healthy.url])
    wait_until(lambda: last_block(nats_server.url) == FIRST + 19, 30, "the stuck node's head")
    try:
        wait_until(lambda: last_block(nats_server.url) == FIRST + 29, 30, "the last block")
    except AssertionError:
        pytest.fail(
            f"the broadcaster stayed at block {last_block(nats_server.url)} with {stuck.url}, "
            f"whose head does not move, while {healthy.url} has block {FIRST + 29}; log:\n"
            + "\n".join(proc.stderr.lines[-6:])
        )
    got, want = stored(read_stream(nats_server.url)), expected_messages(blocks)
    assert got == want, first_difference(got, want)
