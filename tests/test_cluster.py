"""A three-node NATS cluster: the stream has three replicas and survives losing any node.

Three real nats-server processes on loopback (distinct client and route ports, each its
own store folder) form the cluster `steem`. The broadcaster (STREAM_REPLICAS=3) and the
bot, each under its restart loop, are given all three client URLs. While the replay node
serves the bundled sample, every node in turn (the stream leader first) is SIGKILLed, the
others carry on without it, and it comes back with the same store. In the end the stream
holds every operation exactly once, in chain order, on every replica; the bot printed every
post once; and neither client was restarted: both reconnected on their own.
"""

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from ipc_config.chain import block_num_of
from replay_node.archive import load_archive
from steem_testing.jetstream import last_block_of, with_js
from steem_testing.oracle import expected_messages, expected_posts, stored
from steem_testing.paths import BIN
from steem_testing.processes import Proc
from steem_testing.servers import NatsServer, free_port
from steem_testing.waiting import wait_until

CLUSTER = "steem"
# The sample's 400 blocks come one every PACE seconds. Blocks closed before the first
# kill, and between two kills; blocks the two other nodes must store while one is down:
# about 7 s, longer than the broadcaster lease lives without renewal (LEASE_TTL, 6 s).
PACE = 0.08
FIRST_KILL_AFTER = 40
KILL_EVERY = 120
DOWN_FOR = 90


def start_cluster(procs, tmp_path: Path) -> list[NatsServer]:
    """Three nodes (`n1`, `n2`, `n3`), once JetStream has elected its meta leader."""
    names = ("n1", "n2", "n3")
    route_ports = {name: free_port() for name in names}
    nodes = []
    for name in names:
        routes = ",".join(f"nats://127.0.0.1:{route_ports[n]}" for n in names if n != name)
        options = (
            f"--server_name {name} --cluster_name {CLUSTER} "
            f"--cluster nats://127.0.0.1:{route_ports[name]} --routes {routes}"
        )
        store = tmp_path / name / "jetstream"
        nodes.append(NatsServer(procs, store, options=tuple(options.split()), name=name).start())
    wait_until(
        lambda: all("metadata leader" in n.proc.stderr.text() for n in nodes),
        30,
        "a JetStream meta leader",
    )
    return nodes


async def _stream_cluster(urls: list[str]) -> tuple[str | None, dict[str, tuple[bool, int]]]:
    """(stream leader, {replica: (current, lag)}) of STEEM, asked of any live node."""
    info = await with_js(
        urls, lambda js: js.stream_info("STEEM"), 2, allow_reconnect=False, connect_timeout=2
    )
    replicas = {
        r.name: (bool(r.current) and not r.offline, r.lag or 0) for r in info.cluster.replicas or []
    }
    return info.cluster.leader, replicas


def stream_cluster(urls: list[str]):
    try:
        return asyncio.run(_stream_cluster(urls))
    except Exception:  # no leader yet, mid-election, the node we asked just died
        return None, {}


def last_block(urls: list[str]) -> int:
    """The last block closed in the stream, 0 while the cluster cannot say."""
    return last_block_of(urls, timeout=2) or 0


def printed_urls(bot: Proc) -> list[str]:
    return [line for line in bot.stdout.text().splitlines() if line.startswith("https://")]


@pytest.mark.xdist_group("heavy")  # the long runs take turns, beside the short tests
def test_a_three_node_cluster_loses_and_regains_each_node_without_loss_or_duplicates(
    tmp_path, procs, replay_node, read_stream
):
    blocks = load_archive(None, virtual_ops=True)
    first = block_num_of(blocks[0]["block_id"])
    last = block_num_of(blocks[-1]["block_id"])
    nodes = start_cluster(procs, tmp_path)
    every_url = [n.url for n in nodes]

    node = replay_node(None, "--pace", str(PACE), "--start-blocks", "1", "--irreversible-lag", "5")
    env = {
        "NATS_URL": ",".join(every_url),
        "STREAM_REPLICAS": "3",
        "STEEM_NODES": node.url,
        "START_BLOCK": str(first),
        "RESTART_DELAY": "0.2",
    }
    broadcaster = procs(
        [BIN / "restart-loop", "--name", "broadcaster", "--", "broadcaster"],
        env={**env, "HONCHO_PROCESS_NAME": "broadcaster.1"},
        name="broadcaster",
    )
    bot = procs(
        [BIN / "restart-loop", "--name", "bot", "--", "bot"],
        env={**env, "HONCHO_PROCESS_NAME": "bot.1"},
        name="bot",
    )

    # The stream leader goes first, then the others: every client loses its server once.
    leader, _ = wait_until(
        lambda: (info := stream_cluster(every_url))[0] and len(info[1]) == 2 and info,
        30,
        "the STEEM stream on three replicas",
    )
    by_name = {n.name: n for n in nodes}
    victims = [by_name[leader]] + [n for n in nodes if n.name != leader]
    for round_, victim in enumerate(victims):
        at = first + FIRST_KILL_AFTER + KILL_EVERY * round_
        wait_until(lambda at=at: last_block(every_url) >= at, 60, f"block {at} stored")
        victim.kill()
        live = [n.url for n in nodes if n is not victim]
        wait_until(
            lambda at=at, live=live: last_block(live) >= at + DOWN_FOR,
            30,
            f"{DOWN_FOR} blocks stored while {victim.name} is down",
        )
        victim.start()  # same port, same store, same routes
        wait_until(
            lambda v=victim: (
                (info := stream_cluster(every_url))[0]
                and (v.name == info[0] or info[1].get(v.name, (False, 1)) == (True, 0))
            ),
            60,
            f"{victim.name} back and current",
        )

    wait_until(lambda: last_block(every_url) == last, 90, "the last block")
    posts = expected_posts(blocks)
    wait_until(lambda: len(printed_urls(bot)) >= len(posts), 60, "every post printed")

    # Every replica has caught up, and the stream holds the whole chain once, in order.
    wait_until(
        lambda: (
            (info := stream_cluster(every_url))[0]
            and all(state == (True, 0) for state in info[1].values())
            and len(info[1]) == 2
        ),
        30,
        "every replica current",
    )
    assert stored(read_stream(by_name[leader].url)) == expected_messages(blocks)
    printed = Counter(printed_urls(bot))
    twice = [url for url, n in printed.items() if n > 1]
    assert not twice, f"{len(twice)} posts printed more than once, e.g. {twice[:3]}"
    assert set(printed) == set(posts), "a post missing, or a URL that is not a new post"

    for client in (broadcaster, bot):
        logs = client.stderr.text()
        name = client.name
        # Clients were never restarted: they reconnected to another node on their own.
        assert logs.count(f"restart-loop[{name}]: started") == 1, logs
        assert f"restart-loop[{name}]: restarted" not in logs, logs
        assert "reconnected to NATS at" in logs, logs
        assert "Traceback" not in logs, logs


async def _replicas(urls: list[str], streams: tuple[str, ...]) -> dict[str, int]:
    async def read(js) -> dict[str, int]:
        return {name: (await js.stream_info(name)).config.num_replicas for name in streams}

    return await with_js(urls, read, 2, allow_reconnect=False, connect_timeout=2)


def test_raising_stream_replicas_grows_the_stream_and_both_buckets(tmp_path, procs, replay_node):
    """A system started with one replica, restarted with STREAM_REPLICAS=3: the stream, the
    status bucket and the lease bucket all get three copies."""
    nodes = start_cluster(procs, tmp_path)
    every_url = [n.url for n in nodes]
    node = replay_node(None, "--pace", "0", "--irreversible-lag", "0")
    first = block_num_of(load_archive(None, virtual_ops=True)[0]["block_id"])
    streams = ("STEEM", "KV_steem_status", "KV_steem_lease")

    def run_broadcaster(replicas: int) -> Proc:
        env = {
            "NATS_URL": ",".join(every_url),
            "STREAM_REPLICAS": str(replicas),
            "STEEM_NODES": node.url,
            "START_BLOCK": str(first),
        }
        return procs([BIN / "broadcaster"], env=env, name=f"broadcaster-r{replicas}")

    def replicas() -> dict[str, int] | None:
        try:
            return asyncio.run(_replicas(every_url, streams))
        except Exception:  # a bucket not created yet, an election in progress
            return None

    one = run_broadcaster(1)
    wait_until(lambda: replicas() == dict.fromkeys(streams, 1), 30, "everything on one replica")
    assert one.stop() == 0
    three = run_broadcaster(3)
    wait_until(lambda: replicas() == dict.fromkeys(streams, 3), 30, "everything on three replicas")
    logs = three.stderr.text()
    assert "KV_steem_status now has 3 replicas (had 1)" in logs, logs
    assert "KV_steem_lease now has 3 replicas (had 1)" in logs, logs
    assert three.stop() == 0
