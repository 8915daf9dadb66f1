"""NATS outage: nats-server stopped for 30 s in the middle of a replay, then started again
on the same port and store.

While NATS is away the broadcaster stops reading the chain (the replay node sees no more
requests, and the broadcaster's memory stays flat although the node has hundreds of
blocks to give), neither worker exits (their restart loops never restart anything), and
when NATS is back both resume: every operation is in the stream once, in order, and the
bot has printed every new post once, in order.
"""

import re
import signal
import time

import pytest
from replay_node.archive import load_archive
from replay_node.generate import generate_archive
from steem_testing.oracle import (
    count_ops,
    expected_messages,
    expected_posts,
    first_difference,
    repeats,
    stored,
)
from steem_testing.paths import BIN
from steem_testing.plugin import report
from steem_testing.proctree import child_pid, rss_mb
from steem_testing.waiting import settle, wait_until

OUTAGE = 30.0
SETTLE = 5.0  # memory is compared from this long into the outage (the queue is full)
QUIET = 15.0  # the last seconds of the outage, when the node must see no request at all
BLOCKS, FIRST, PACE = 1000, 8_000_000, 0.03
MAX_RSS_GROWTH_MB = 20


def under_restart_loop(procs, name: str, env: dict):
    loop = procs(
        [BIN / "restart-loop", "--name", name, "--delay", "0.2", "--", BIN / name], env=env
    )
    pid = wait_until(lambda: child_pid(loop.popen.pid, name), 20, f"{name} running")
    return loop, pid


def lines_between(text: str, start: str, end: str) -> list[str]:
    """Log lines stamped HH:MM:SS within [start, end]."""
    return [
        line
        for line in text.splitlines()
        if (m := re.match(r"^(\d\d:\d\d:\d\d) ", line)) and start <= m.group(1) <= end
    ]


@pytest.mark.xdist_group("heavy")  # the long runs take turns, beside the short tests
@pytest.mark.slow
def test_a_30_s_nats_outage_loses_nothing_and_buffers_nothing(
    tmp_path, procs, nats_server, replay_node, read_stream, last_block, request
):
    archive = tmp_path / "chain.jsonl"
    generate_archive(archive, count=BLOCKS, start=FIRST, seed=3)
    blocks = load_archive(archive, virtual_ops=True)
    last = FIRST + BLOCKS - 1
    posts = expected_posts(blocks)
    node = replay_node(
        archive, "--pace", str(PACE), "--start-blocks", "1", "--irreversible-lag", "2"
    )
    env = {"NATS_URL": nats_server.url, "STEEM_NODES": node.url, "START_BLOCK": str(FIRST)}
    broadcaster_loop, broadcaster = under_restart_loop(procs, "broadcaster", env)
    bot_loop, bot = under_restart_loop(procs, "bot", {"NATS_URL": nats_server.url})

    wait_until(lambda: (last_block(nats_server.url) or 0) >= FIRST + 150, 60, "150 blocks")
    wait_until(lambda: len(bot_loop.stdout.lines) >= 50, 30, "50 posts printed")

    # -- the outage ---------------------------------------------------------------------
    published_before = last_block(nats_server.url)
    nats_server.stop()
    down_at = time.monotonic()
    down_clock = time.strftime("%H:%M:%S")
    samples = []  # (seconds into the outage, broadcaster RSS, requests the node served)
    while (elapsed := time.monotonic() - down_at) < OUTAGE:  # deliberate: the outage
        samples.append((elapsed, rss_mb(broadcaster), node.status()["requests_served"]))
        time.sleep(0.5)
    status = node.status()
    up_clock = time.strftime("%H:%M:%S")
    settled = [s for s in samples if s[0] >= SETTLE]
    late = [s for s in samples if s[0] >= OUTAGE - QUIET]
    rss_blocked, rss_max = settled[0][1], max(s[1] for s in settled)
    requests_late = status["requests_served"] - late[0][2]
    request_times = [  # "when: total" each time the node's request count moved
        f"{later[0]:.1f} s: {later[2]}"
        for earlier, later in zip(samples, samples[1:], strict=False)
        if later[2] != earlier[2]
    ]
    waiting_blocks = status["irreversible"] - published_before
    nats_server.restarted()  # same port, same store

    # -- after ----------------------------------------------------------------------------
    settle(lambda: last_block(nats_server.url) == last, 90)
    settle(lambda: len(bot_loop.stdout.lines) >= len(posts), 60)
    messages = read_stream(nats_server.url)
    printed = list(bot_loop.stdout.lines)
    broadcaster_log, bot_log = broadcaster_loop.stderr.text(), bot_loop.stderr.text()
    report(
        request,
        "nats outage",
        {
            "blocks": BLOCKS,
            "operations": count_ops(blocks),
            "outage s": OUTAGE,
            "blocks the node had waiting": waiting_blocks,
            "node requests in the last 15 s of the outage": requests_late,
            "last node request at": request_times[-1].split(":")[0] if request_times else "0 s",
            "broadcaster RSS MB": f"{rss_blocked:.1f} -> max {rss_max:.1f}",
            "posts expected": len(posts),
            "posts printed": len(printed),
            "duplicates": repeats(printed),
            "broadcaster log lines during outage": len(
                lines_between(broadcaster_log, down_clock, up_clock)
            ),
            "bot log lines during outage": len(lines_between(bot_log, down_clock, up_clock)),
        },
    )

    problems = []
    if requests_late:
        problems.append(
            f"the broadcaster kept reading the chain while NATS was down: {requests_late} "
            f"requests to the node in the last {QUIET:.0f} s of the outage (request count "
            f"changes: {request_times[-10:]})"
        )
    if rss_max - rss_blocked > MAX_RSS_GROWTH_MB:
        problems.append(f"the broadcaster's memory grew from {rss_blocked:.1f} to {rss_max:.1f} MB")
    if waiting_blocks < 300:
        problems.append(f"the node had only {waiting_blocks} blocks waiting: not a fair test")
    for name, loop, pid in (("broadcaster", broadcaster_loop, broadcaster), ("bot", bot_loop, bot)):
        if child_pid(loop.popen.pid, name) != pid:
            problems.append(f"the {name} did not survive the outage (pid {pid} is gone)")
        restarts = [
            line
            for line in loop.stderr.lines
            if re.search(r"restart-loop\[\w+\]: \S+ (exited|killed)", line)
        ]
        if restarts:
            problems.append(f"the {name}'s restart loop restarted it: {restarts}")
        log = loop.stderr.text()
        if "Traceback" in log:
            problems.append(f"{name} traceback:\n" + log[log.index("Traceback") :][:2000])
        during = lines_between(log, down_clock, up_clock)
        if len(during) > 100:
            problems.append(
                f"the {name} logged {len(during)} lines during the outage: {during[:5]}..."
            )
    got, want = stored(messages), expected_messages(blocks)
    if got != want:
        problems.append(
            "the stream must hold every operation once, in order: " + first_difference(got, want)
        )
    if printed != posts:
        missing = sorted(set(posts) - set(printed))
        problems.append(
            f"the bot must print every post once, in order: {len(printed)} lines for "
            f"{len(posts)} posts, {repeats(printed)} repeated, {len(missing)} missing "
            f"({missing[:2]}); "
            + first_difference(printed, posts)
            + f"\nprinted twice: {sorted({u for u in printed if printed.count(u) > 1})[:10]}"
            + "\nbot log from the outage on:\n"
            + "\n".join(lines_between(bot_log, down_clock, "99:99:99")[:40])
        )
    for loop in (broadcaster_loop, bot_loop):
        loop.signal(signal.SIGTERM)
        if loop.popen.wait(10) != 0:
            problems.append(f"{loop.name} did not stop cleanly on SIGTERM")
    assert not problems, "\n".join(problems)
