"""Live latency of issue 4: from a block becoming visible at the node to the bot's post.

    uv run python bench/latency.py                       # the goal: a block every 3 s, 100 blocks
    uv run python bench/latency.py --pace 1 --blocks 20  # a quick look

One replay node produces a block every `--pace` seconds (last irreversible block
`--irreversible-lag` behind the head) and records when each block became head and
irreversible (GET /visibility). Two pipelines follow it at once, each with its own
nats-server: one in `head` mode, one in `irreversible` mode. A block's latency is the
time from it becoming visible in the pipeline's mode (head, or last irreversible) to the
bot printing the last of its new posts. Results go to docs/bench/results.json
(section `live_latency`) and the chart.
"""

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from chart import draw_chart
from common import (
    Archive,
    Proc,
    Processes,
    archive,
    get_json,
    peak_rss_mb,
    percentile,
    save_results,
    start_replay_node,
    wait_until,
)
from pipeline import Consumer, start_broadcaster, start_consumer
from report import print_report

MODES = ("head", "irreversible")
START_UP_S = 3.0  # blocks visible before the pipelines had this long to start are not counted
SPARE_BLOCKS = 3


@dataclass
class Follower:
    """One pipeline (nats-server, bot, broadcaster) following the node in one mode."""

    mode: str
    consumer: Consumer
    broadcaster: Proc | None = None

    @property
    def bot(self) -> Proc:
        return self.consumer.bot


def block_latencies(
    follower: Follower, chain: Archive, visibility: dict, counted_from: float, count: int
) -> list[float]:
    """Seconds from visible to the block's last post printed, for `count` blocks."""
    printed_at: dict[int, float] = {}
    for (url, num), (_, wall, line) in zip(chain.posts, follower.bot.stdout.lines, strict=False):
        if line != url:
            raise RuntimeError(f"{follower.mode} bot printed {line!r}, expected {url!r}")
        printed_at[num] = wall  # the last post of the block wins
    latencies = []
    for num in sorted(printed_at):
        visible = visibility.get(str(num), {}).get(follower.mode)
        if visible is not None and visible >= counted_from:
            latencies.append(printed_at[num] - visible)
    return latencies[:count]


def pauses(proc: Proc) -> int:
    """Lines where the worker left fetched messages to the server and paused (issue 13):
    with NATS up and a handler that only prints, there must be none."""
    return sum("leaving" in line for line in proc.log.read_text(errors="replace").splitlines())


def summary(latencies: list[float], follower: Follower) -> dict:
    return {
        "blocks": len(latencies),
        "posts": follower.bot.stdout.count,
        "p50": percentile(latencies, 0.50),
        "p90": percentile(latencies, 0.90),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies, default=None),
        "pauses": pauses(follower.bot),
        "latencies_s": [round(x, 4) for x in latencies],
        "peak_rss_mb": {
            "broadcaster": peak_rss_mb(follower.broadcaster.pid),
            "bot": peak_rss_mb(follower.bot.pid),
        },
    }


def measure(pace: float, count: int, lag: int, workdir: Path) -> dict:
    chain = archive(int(START_UP_S / pace) + 1 + count + lag + SPARE_BLOCKS)
    options = ("--pace", str(pace), "--irreversible-lag", str(lag), "--start-blocks", "1")
    with Processes(workdir) as procs:
        # Consumers first, then the node (its clock starts), then the broadcasters at once.
        followers = [Follower(mode, start_consumer(procs, f"-{mode}")) for mode in MODES]
        node_url, _ = start_replay_node(procs, chain.path, *options)
        for f in followers:
            mode_env = {"STREAM_MODE": f.mode}
            f.broadcaster = start_broadcaster(
                procs, f.consumer, node_url, chain.first, mode_env, f"-{f.mode}"
            )
        counted_from = time.time() + START_UP_S
        run_for = (chain.blocks + lag) * pace + 30
        print(f"following {chain.blocks} blocks, one every {pace:g} s: about {run_for - 30:.0f} s")
        wait_until(lambda: _all_printed(followers, chain), run_for, "every post printed", every=0.2)
        visibility = get_json(node_url + "/visibility")
        modes = {
            f.mode: summary(block_latencies(f, chain, visibility, counted_from, count), f)
            for f in followers
        }
    return {
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "pace_s": pace,
        "irreversible_lag": lag,
        "modes": modes,
    }


def _all_printed(followers: list[Follower], chain: Archive) -> bool:
    for f in followers:
        if not (f.bot.alive and f.broadcaster.alive):
            raise RuntimeError(f"the {f.mode} pipeline stopped:\n{f.broadcaster.log_tail()}")
    return all(f.bot.stdout.count >= len(chain.posts) for f in followers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pace", type=float, default=3.0, help="seconds per block (default 3)")
    parser.add_argument("--blocks", type=int, default=100, help="blocks measured (default 100)")
    parser.add_argument("--irreversible-lag", type=int, default=2, help="head - LIB (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="steem-bench-live-") as tmp:
        results = measure(args.pace, args.blocks, args.irreversible_lag, Path(tmp))
    everything = save_results("live_latency", results)
    print_report(everything)
    draw_chart(everything)
    print("\nresults: docs/bench/results.json, chart: docs/bench/chart.png")


if __name__ == "__main__":
    main()
