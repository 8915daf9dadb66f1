"""Catch-up benchmark (issues 4, 11 and 12): the baselines and the pipeline, in one run, over
loopback (with and without virtual operations) and at a distance (50 and 200 ms added to
every request by the replay node).

    uv run python bench/catchup.py            # the full run, a few minutes
    uv run python bench/catchup.py --quick    # a sanity run, about a minute

Starts its own replay nodes and nats-servers on free loopback ports, measures beem,
nats-py and the pipeline (`broadcaster` + `bot` console scripts) on the same archives,
prints the tables and the goals, and writes docs/bench/results.json and chart.png.
"""

import argparse
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from baselines import (
    beem_default_stream,
    beem_noderpc_batches,
    fastest_beem,
    nats_baselines,
)
from chart import draw_chart
from common import (
    ROOT,
    Archive,
    Processes,
    archive,
    iter_op_messages,
    save_results,
    start_nats,
    start_replay_node,
)
from pipeline import run_pipeline
from report import print_report


@dataclass(frozen=True)
class Plan:
    main_blocks: int = 7_000  # about 100,000 operations: the memory goal's catch-up
    scaling_blocks: tuple[int, ...] = (1_000, 5_000, 20_000)
    default_stream_blocks: int = 1_000  # beem's one-request-per-block stream, loopback
    latencies_s: tuple[float, ...] = (0.05, 0.2)  # added to every request: a distant node
    # beem's default stream (a request per block) does ~19 blocks/s at 50 ms, ~4 at 200 ms
    latency_default_blocks: tuple[int, ...] = (200, 60)
    latency_batched_blocks: int = 2_000
    fetch_batch_size: int | None = None  # FETCH_BATCH_SIZE for the broadcaster, if set


FULL = Plan()
QUICK = Plan(
    main_blocks=1_000,
    scaling_blocks=(),
    default_stream_blocks=300,
    latency_default_blocks=(40, 15),
    latency_batched_blocks=500,
)


def measure_loopback(workdir: Path, chain: Archive, plan: Plan) -> dict:
    first, last = chain.first, chain.last
    with Processes(workdir) as procs:
        url, node = start_replay_node(procs, chain.path, "--pace", "0")
        say(f"(a) beem batched, {chain.blocks:,} blocks")
        best, tries = fastest_beem(url, first, last)
        say(f"beem default stream, {plan.default_stream_blocks:,} blocks")
        default = beem_default_stream(url, first, first + plan.default_stream_blocks - 1)
        say("(b) and (c) nats-py publish and consume")
        published, publish_tries, consumed = _nats_baselines(workdir, chain)
        say(f"pipeline over loopback, {chain.blocks:,} blocks")
        pipeline = run_pipeline(workdir, chain, url, node, "loopback (main)", _env(plan))
        say(f"pipeline over loopback without virtual operations, {chain.blocks:,} blocks")
        without_vops = run_pipeline(
            workdir, chain, url, node, "loopback, no vops", {**_env(plan), "VIRTUAL_OPS": "false"}
        )
    return {
        "beem_fastest": best.as_dict(),
        "beem_tries": [m.as_dict() for m in tries],
        "beem_default": default.as_dict(),
        "nats_publish": published.as_dict(),
        "nats_publish_tries": [m.as_dict() for m in publish_tries],
        "nats_consume": consumed.as_dict(),
        "pipeline": pipeline.as_dict(),
        "pipeline_without_vops": without_vops.as_dict(),
    }


def _nats_baselines(workdir: Path, chain: Archive):
    messages = list(iter_op_messages(chain.path))
    with Processes(workdir) as procs:
        nats_url, _ = start_nats(procs, "nats-baseline")
        return nats_baselines(nats_url, messages, chain.blocks)


def measure_with_latency(
    workdir: Path, chain: Archive, plan: Plan, latency_s: float, default_blocks: int
) -> dict:
    first = chain.first
    options = ("--pace", "0", "--latency", str(latency_s))
    with Processes(workdir) as procs:
        url, node = start_replay_node(procs, chain.path, *options)
        ms = f"{latency_s * 1000:.0f} ms"
        say(f"beem default stream at {ms}/request, {default_blocks} blocks")
        default = beem_default_stream(url, first, first + default_blocks - 1)
        say(f"beem batched at {ms}/request, {plan.latency_batched_blocks:,} blocks")
        last = min(chain.last, first + plan.latency_batched_blocks - 1)
        batched = beem_noderpc_batches(url, first, last, 50)
        say(f"pipeline at {ms}/request, {chain.blocks:,} blocks")
        pipeline = run_pipeline(workdir, chain, url, node, f"{ms}/request", _env(plan))
    return {
        "latency_s": latency_s,
        "beem_default": default.as_dict(),
        "beem_batched": batched.as_dict(),
        "pipeline": pipeline.as_dict(),
    }


def measure_scaling(workdir: Path, plan: Plan, main_run: dict) -> list[dict]:
    runs = [main_run]
    for blocks in plan.scaling_blocks:
        if blocks == plan.main_blocks:
            continue
        chain = archive(blocks)
        with Processes(workdir) as procs:
            url, node = start_replay_node(procs, chain.path, "--pace", "0")
            say(f"pipeline over loopback, {blocks:,} blocks")
            runs.append(
                run_pipeline(workdir, chain, url, node, f"{blocks:,} blocks", _env(plan)).as_dict()
            )
    return sorted(runs, key=lambda r: r["blocks"])


def _env(plan: Plan) -> dict[str, str]:
    return {"FETCH_BATCH_SIZE": str(plan.fetch_batch_size)} if plan.fetch_batch_size else {}


def say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def code_measured() -> dict:
    """Which code the processes ran: the commit, uncommitted changes, any PYTHONPATH."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.rstrip("\n")

    changed = git("status", "--porcelain", "--", "libs", "workers").splitlines()
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted": [line[3:] for line in changed],
        "pythonpath": os.environ.get("PYTHONPATH", ""),
    }


def parse_args() -> Plan:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small archives, about a minute")
    parser.add_argument("--blocks", type=int, help="blocks of the main archive (default 7000)")
    parser.add_argument("--scaling", help="comma-separated archive sizes, '' for none")
    parser.add_argument("--fetch-batch-size", type=int, help="FETCH_BATCH_SIZE of the broadcaster")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.blocks:
        plan = replace(plan, main_blocks=args.blocks)
    if args.scaling is not None:
        plan = replace(plan, scaling_blocks=tuple(int(x) for x in args.scaling.split(",") if x))
    if args.fetch_batch_size:
        plan = replace(plan, fetch_batch_size=args.fetch_batch_size)
    return plan


def main() -> None:
    plan = parse_args()
    started = time.monotonic()
    results = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "code": code_measured(),
        "plan": asdict(plan),
    }
    chain = archive(plan.main_blocks)
    for blocks in plan.scaling_blocks:
        archive(blocks)  # generate before measuring, not in between
    with tempfile.TemporaryDirectory(prefix="steem-bench-") as tmp:
        workdir = Path(tmp)
        results["loopback"] = measure_loopback(workdir, chain, plan)
        results["distances"] = [
            measure_with_latency(workdir, chain, plan, latency, blocks)
            for latency, blocks in zip(plan.latencies_s, plan.latency_default_blocks, strict=True)
        ]
        results["scaling"] = measure_scaling(workdir, plan, results["loopback"]["pipeline"])
    results["seconds"] = round(time.monotonic() - started, 1)
    everything = save_results("catchup", results)
    print_report(everything)
    draw_chart(everything)
    print(
        f"\nresults: docs/bench/results.json, chart: docs/bench/chart.png ({results['seconds']} s)"
    )


if __name__ == "__main__":
    main()
