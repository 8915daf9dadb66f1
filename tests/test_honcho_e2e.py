"""The real Procfile under honcho, against the replay node serving the bundled sample."""

import os
import signal

from ipc_config.chain import block_num_of
from replay_node.archive import load_archive
from steem_testing.honcho import app_env, printed_urls, start_honcho, stop_honcho
from steem_testing.oracle import expected_posts, repeats
from steem_testing.paths import ROOT
from steem_testing.proctree import console_script_pids
from steem_testing.servers import free_port
from steem_testing.waiting import wait_until


def kill_child(honcho, script: str) -> int:
    """SIGKILL the worker itself (not its restart loop) and return its pid."""
    (pid,) = wait_until(
        lambda: console_script_pids(honcho.popen.pid, script), 20, f"{script} running"
    )
    os.kill(pid, signal.SIGKILL)
    return pid


def test_procfile_prints_every_new_post_once_through_crashes(tmp_path, procs, replay_node):
    blocks = load_archive(None)  # the bundled sample, real mainnet blocks included
    posts = expected_posts(blocks)
    first = block_num_of(blocks[0]["block_id"])
    node = replay_node(None, "--pace", "0.03", "--start-blocks", "1", "--irreversible-lag", "5")
    env = app_env(tmp_path, node.url, first, RESTART_DELAY="0.2")
    honcho = start_honcho(procs, tmp_path, ROOT / "Procfile", env)

    wait_until(lambda: len(printed_urls(honcho)) >= len(posts) // 3, 60, "a third of the posts")
    killed_bot = kill_child(honcho, "bot")
    wait_until(
        lambda: len(printed_urls(honcho)) >= 2 * len(posts) // 3, 60, "two thirds of the posts"
    )
    killed_broadcaster = kill_child(honcho, "broadcaster")
    wait_until(lambda: set(printed_urls(honcho)) >= set(posts), 90, "every post")

    restarted = console_script_pids(honcho.popen.pid, "bot") + console_script_pids(
        honcho.popen.pid, "broadcaster"
    )
    assert (
        len(restarted) == 2 and killed_bot not in restarted and killed_broadcaster not in restarted
    )
    stop_honcho(honcho, ["nats", "broadcaster", "bot", "transfers"])

    printed = printed_urls(honcho)
    assert set(printed) == set(posts), "printed a URL that is not a new post (a reply or an edit?)"
    twice = repeats(printed)
    assert twice <= 1, f"{twice} URLs printed twice; one bot kill may redeliver one message"
    output = honcho.stdout.text()
    assert "restart-loop[bot]: bot killed by SIGKILL" in output
    assert "restart-loop[broadcaster]: broadcaster killed by SIGKILL" in output
    assert "Traceback" not in output


def test_offline_procfile_replays_the_bundled_sample_and_streams_live_without_pauses(
    tmp_path, procs
):
    """`honcho -f Procfile.replay start`, as the README's offline mode says: the sample's
    first blocks at once, then one block a second, live. With WORKER_ACK_WAIT=1 every
    subject is quiet for longer than 0.7 x ack_wait between two blocks, and no worker may
    leave messages to the server or pause while NATS is up (issue 13)."""
    blocks = load_archive(None)
    honcho = start_honcho(
        procs,
        tmp_path,
        ROOT / "Procfile.replay",
        {
            "REPLAY_PORT": str(free_port()),
            "REPLAY_NATS_PORT": str(free_port()),
            "REPLAY_DATA": str(tmp_path / "replay"),
            "WORKER_ACK_WAIT": "1",
        },
    )
    # 200 blocks are there at start (--start-blocks 200), 197 irreversible (--irreversible-
    # lag 3); then one more a second. Wait for the live blocks holding the next ten posts.
    early_posts = expected_posts(blocks[:197])
    live = next(n for n in range(197, len(blocks)) if len(expected_posts(blocks[197:n])) >= 10)
    wanted = expected_posts(blocks[:live])
    wait_until(lambda: len(printed_urls(honcho)) >= len(early_posts), 60, "the early posts")
    wait_until(lambda: len(printed_urls(honcho)) >= len(wanted), 60, "ten posts of live blocks")
    printed = printed_urls(honcho)
    assert printed == expected_posts(blocks)[: len(printed)]  # in chain order, none missing
    stop_honcho(honcho, ["nats", "replay", "broadcaster", "bot", "transfers"])
    pauses = [line for line in honcho.stdout.lines if "leaving" in line]
    assert pauses == [], "a worker left messages and paused while NATS was up"
