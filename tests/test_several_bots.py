"""`honcho start -c bot=3`: three bots share one durable consumer and split the posts.

The real Procfile under honcho, against the replay node serving the bundled sample. The
three bots (`bot.1`, `bot.2`, `bot.3`) pull from the same durable consumer `bot`, so each
post is printed by one of them; one bot is SIGKILLed mid-run (its restart loop starts it
again) and, across the three, every post is still printed, at most one twice (the message
the killed bot had in hand).
"""

import os
import re
import signal
from collections import Counter
from pathlib import Path

from ipc_config.chain import block_num_of
from replay_node.archive import load_archive
from steem_testing.honcho import app_env, start_honcho
from steem_testing.oracle import expected_posts, repeats
from steem_testing.paths import ROOT
from steem_testing.proctree import console_script_pids, descendants
from steem_testing.waiting import wait_until

BOTS = 3
URL_LINE = re.compile(r"^\S+ (bot\.\d+)\s+\| (https://steemit\.com/\S+)$")


def printed(honcho) -> list[tuple[str, str]]:
    """(bot instance, URL) of every URL line, from all the bots."""
    return [m.groups() for line in honcho.stdout.text().splitlines() if (m := URL_LINE.match(line))]


def test_three_bots_print_every_post_once_between_them_through_a_kill(tmp_path, procs, replay_node):
    blocks = load_archive(None)
    posts = expected_posts(blocks)
    first = block_num_of(blocks[0]["block_id"])
    node = replay_node(None, "--pace", "0.03", "--start-blocks", "1", "--irreversible-lag", "5")
    env = app_env(tmp_path, node.url, first, RESTART_DELAY="0.2")
    honcho = start_honcho(procs, tmp_path, ROOT / "Procfile", env, "-c", f"bot={BOTS}")

    bots = wait_until(
        lambda: len(pids := console_script_pids(honcho.popen.pid, "bot")) == BOTS and pids,
        30,
        f"{BOTS} bots running",
    )
    wait_until(lambda: len(printed(honcho)) >= len(posts) // 3, 60, "a third of the posts")
    # Kill a bot that is busy: the one that printed last.
    busy = printed(honcho)[-1][0]
    victim = next(pid for pid in bots if _honcho_name(pid) == busy)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: {url for _, url in printed(honcho)} >= set(posts), 60, "every post")

    running = wait_until(
        lambda: len(pids := console_script_pids(honcho.popen.pid, "bot")) == BOTS and pids,
        10,
        "the killed bot restarted",
    )
    assert victim not in running
    honcho.popen.send_signal(signal.SIGTERM)
    assert honcho.popen.wait(15) == 143
    assert descendants(honcho.popen.pid) == {}

    lines = printed(honcho)
    urls = [url for _, url in lines]
    assert set(urls) == set(posts), "printed a URL that is not a new post"
    twice = repeats(urls)
    assert twice <= 1, f"{twice} URLs printed twice; one bot kill may redeliver one message"
    by_bot = Counter(bot for bot, _ in lines)
    assert len(by_bot) >= 2, f"the work was not shared: {dict(by_bot)}"
    output = honcho.stdout.text()
    assert "restart-loop[bot]: bot killed by SIGKILL" in output
    for instance in range(1, BOTS + 1):
        assert re.search(rf"system\s+\| bot\.{instance} stopped \(rc=0\)", output), output
    assert "Traceback" not in output


def _honcho_name(pid: int) -> str:
    """HONCHO_PROCESS_NAME of a process (`bot.2`), read from its environment."""
    for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        if entry.startswith(b"HONCHO_PROCESS_NAME="):
            return entry.split(b"=", 1)[1].decode()
    return ""
