"""Crashes: SIGKILL the broadcaster, the bot and nats-server at random moments of a replay.

The real Procfile runs under honcho against a replay node that serves a generated archive
of 1,000 blocks at a pace that makes the replay last about 45 s. Every 0.4 to 2.2 s one
of the three processes (the program itself, not its restart loop) is killed, chosen with
random.Random(seed); the seed is printed, and FAULT_SEED=<seed> replays the same choices.
Afterwards the bot has printed every new post of the archive and no reply, each URL once
(at most one repeat per bot kill), and the stream holds every operation exactly once, in
chain order.
"""

import asyncio
import os
import random
import re
import signal
import time
from collections import Counter

import pytest
from replay_node.archive import load_archive
from replay_node.generate import generate_archive
from steem_testing.honcho import URL_LINE, app_env, printed_urls, start_honcho
from steem_testing.jetstream import last_block_of, local_nats, stream_messages
from steem_testing.oracle import (
    all_replies,
    comment_states,
    count_ops,
    expected_messages,
    expected_posts,
    first_difference,
    repeats,
    stored,
)
from steem_testing.paths import ROOT
from steem_testing.plugin import report
from steem_testing.proctree import child_pid, descendants, loop_pid, sigkill, still_running
from steem_testing.waiting import settle, wait_until

SEED = int(os.environ.get("FAULT_SEED", "20240607"))
BLOCKS, FIRST, PACE = 1000, 7_000_000, 0.045
MIN_KILLS = 20
TARGETS = {  # restart-loop name -> the programs from the loop down to the one killed
    "broadcaster": ("broadcaster",),
    "bot": ("bot",),
    "nats": ("nats-local", "nats-server"),  # nats-local runs nats-server as its child
}


def target_pid(root: int, name: str) -> int | None:
    """Pid of the program to kill for `name`, found below its restart loop."""
    pid = loop_pid(root, name)
    for program in TARGETS[name]:
        pid = None if pid is None else child_pid(pid, program)
    return pid


def repeats_by_last_kill(output: str) -> dict[str, int]:
    """For each URL printed again, which process had been killed last before it: says
    whether repeats follow bot kills (allowed, one each) or NATS kills (not allowed)."""
    seen: set[str] = set()
    last_kill = "none"
    found: Counter[str] = Counter()
    for line in output.splitlines():
        if m := re.search(r"restart-loop\[(\w+)\]: \w+ killed by SIGKILL", line):
            last_kill = m.group(1)
        elif m := URL_LINE.match(line):
            if m.group(1) in seen:
                found[f"after a {last_kill} kill"] += 1
            seen.add(m.group(1))
    return dict(found)


def unplanned_exits(output: str) -> list[str]:
    """restart-loop lines of a process that exited on its own (not by our SIGKILL)."""
    return [
        line
        for line in output.splitlines()
        if re.search(r"restart-loop\[\w+\]: \S+ (exited with code|killed by (?!SIGKILL))", line)
    ]


@pytest.mark.xdist_group("heavy")  # the long runs take turns, beside the short tests
@pytest.mark.slow
def test_random_sigkills_lose_nothing_and_duplicate_nothing(tmp_path, procs, replay_node, request):
    archive = tmp_path / "chain.jsonl"
    # Posts, replies, rewards, and an edit a block, one in five resending the whole body:
    # only the chain can tell those from new posts.
    summary = generate_archive(
        archive, count=BLOCKS, start=FIRST, seed=SEED % 1000, edits_per_block=1.0,
        whole_body_edits=0.2,
    )  # fmt: skip
    blocks = load_archive(archive, virtual_ops=True)
    states = comment_states(blocks)
    posts = expected_posts(blocks)
    last = summary["last"]
    report(request, "crashes", {"seed": SEED, "replay with": f"FAULT_SEED={SEED}"})

    node = replay_node(
        archive, "--pace", str(PACE), "--start-blocks", "1", "--irreversible-lag", "3"
    )
    env = app_env(
        tmp_path,
        node.url,
        FIRST,
        RESTART_DELAY="0.2",
        RESTART_MAX_DELAY="1",
        RESTART_HEALTHY_AFTER="1",
    )
    nats_url = env["NATS_URL"]
    honcho = start_honcho(procs, tmp_path, ROOT / "Procfile", env)
    root = honcho.popen.pid
    wait_until(lambda: printed_urls(honcho), 60, "the first post")
    # The Procfile's NATS lets in only the holders of the nkey it made in the run's folder.
    stream = local_nats(nats_url, tmp_path)

    rng = random.Random(SEED)
    kills: Counter[str] = Counter()
    timeline: list[str] = []
    started = time.monotonic()
    while sum(kills.values()) < MIN_KILLS or node.status()["head"] < last:
        time.sleep(rng.uniform(0.4, 2.2))  # a random moment, not a synchronisation
        name = rng.choice(sorted(TARGETS))
        pid = wait_until(lambda name=name: target_pid(root, name), 30, f"{name} running")
        if sigkill(pid):
            kills[name] += 1
            timeline.append(f"{time.monotonic() - started:6.1f} s: killed {name} (pid {pid})")
        assert time.monotonic() - started < 150, "the replay takes far too long"

    settle(lambda: last_block_of(stream) == last, 90)
    settle(lambda: set(printed_urls(honcho)) >= set(posts), 60)
    replay_seconds = time.monotonic() - started
    messages = asyncio.run(stream_messages(stream))

    tree = descendants(root)
    honcho.popen.send_signal(signal.SIGTERM)
    assert honcho.popen.wait(10) == 143
    wait_until(lambda: not still_running(tree), 10, "every process to stop")

    printed = printed_urls(honcho)
    output = honcho.stdout.text()
    (tmp_path / "honcho.log").write_text(output + "\n" + "\n".join(timeline) + "\n")
    report(
        request,
        "crashes",
        {
            "seed": SEED,
            "blocks": len(blocks),
            "operations": count_ops(blocks),
            "kills": f"{sum(kills.values())} ({', '.join(f'{k} {v}' for k, v in sorted(kills.items()))})",
            "edits": sum(state == "edited" for state in states.values()),
            "virtual operations": sum(len(b["virtual_ops"]) for b in blocks),
            "posts expected": len(posts),
            "posts printed": len(set(printed)),
            "lines printed": len(printed),
            "duplicates": repeats(printed),
            "stream messages": len(messages),
            "seconds": round(replay_seconds),
            "log": tmp_path / "honcho.log",
        },
    )

    # Every check is made, so that one run shows every problem at once.
    problems = []
    missing = set(posts) - set(printed)
    if missing:
        problems.append(f"{len(missing)} posts never printed, e.g. {sorted(missing)[:3]}")
    if set(printed) & all_replies(blocks):
        problems.append(
            f"the bot printed replies: {sorted(set(printed) & all_replies(blocks))[:3]}"
        )
    if not set(printed) <= set(posts):
        problems.append(
            f"the bot printed URLs that are not new posts: {sorted(set(printed) - set(posts))[:3]}"
        )
    if repeats(printed) > kills["bot"]:
        again = [u for u, n in Counter(printed).items() if n > 1]
        problems.append(
            f"{repeats(printed)} URLs printed again for {kills['bot']} bot kills (at most one "
            f"per bot kill may repeat): {repeats_by_last_kill(output)}, e.g. {again[:3]}"
        )
    got, want = stored(messages), expected_messages(blocks)
    if got != want:
        problems.append(
            "the stream must hold every operation exactly once, in order: "
            + first_difference(got, want)
        )
    told = {m.headers["Nats-Msg-Id"]: m.headers.get("Steem-Comment") for m in messages}
    wrong = {k: (told.get(k), v) for k, v in states.items() if told.get(k) != v}
    if wrong:
        problems.append(
            f"{len(wrong)} comments told wrong (got, expected): {list(wrong.items())[:3]}"
        )
    for name, count in kills.items():
        logged = output.count(f"restart-loop[{name}]: {name} killed by SIGKILL")
        if logged != count:
            problems.append(f"{count} kills of {name}, {logged} logged by its restart loop")
    forgotten = [line for line in output.splitlines() if "starting afresh" in line]
    if forgotten:  # one consumer all along: every restart must read what was handled before
        problems.append("a restarted worker forgot what it handled:\n" + "\n".join(forgotten))
    if unplanned_exits(output):
        problems.append("processes exited on their own:\n" + "\n".join(unplanned_exits(output)))
    if "Traceback" in output:
        problems.append("a traceback:\n" + output[output.index("Traceback") - 300 :][:2500])
    assert not problems, "\n".join(problems) + f"\n(the whole output: {tmp_path / 'honcho.log'})"
