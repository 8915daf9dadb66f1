"""The chart of docs/bench/results.json: catch-up over loopback, catch-up by distance to
the node, scaling and memory, and live latency."""

import textwrap

from common import DOCS
from report import (
    DISTANCE_SHARES,
    LIVE_P50,
    LIVE_P99,
    LOOPBACK_SHARE,
    PEER_FACTORS,
    _published_bps,
    distances_of,
    fmt,
    slowest_baseline,
)

CHART = DOCS / "chart.png"


def draw_chart(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(15, 10))
    catchup, live = results.get("catchup"), results.get("live_latency")
    if catchup:
        _throughput_panel(axes[0][0], catchup["loopback"], "Catch-up over loopback")
        _distance_panel(axes[0][1], catchup)
        _scaling_panel(axes[1][1], catchup["scaling"])
    if live:
        _live_panel(axes[1][0], live)
    for ax in fig.axes:
        if not ax.has_data():
            ax.text(0.5, 0.5, "not measured yet", ha="center", va="center")
    fig.suptitle("steem-bot catch-up, by distance to the node, and live latency")
    fig.tight_layout()
    DOCS.mkdir(parents=True, exist_ok=True)
    fig.savefig(CHART, dpi=100)
    plt.close(fig)


def _bars(ax, labels: list[str], values: list[float], colors: list[str]) -> None:
    bars = ax.barh([textwrap.fill(label, 26) for label in labels], values, color=colors)
    ax.bar_label(bars, labels=[fmt(v) for v in values], padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("archive blocks per second")


def _bars_with_pipeline(ax, labels: list, values: list, colors: list, pipeline: dict) -> None:
    """The stages' bars, then the pipeline's (broadcaster alone, and end to end)."""
    if pipeline.get("blocks_per_s"):
        labels = [*labels, "pipeline: broadcaster", "pipeline: end to end"]
        values = [
            *values,
            pipeline["blocks"] / pipeline["timeline_s"]["published"],
            pipeline["blocks_per_s"],
        ]
        colors = [*colors, "tab:orange", "tab:red"]
    _bars(ax, labels, values, colors)


def _throughput_panel(ax, loop: dict, title: str) -> None:
    stages = [
        loop["beem_fastest"],
        loop["beem_default"],
        loop["nats_publish"],
        loop["nats_consume"],
    ]
    labels = [
        "(a) " + loop["beem_fastest"]["name"],
        loop["beem_default"]["name"],
        "(b) " + loop["nats_publish"]["name"],
        "(c) " + loop["nats_consume"]["name"],
    ]
    values = [m["blocks_per_s"] for m in stages]
    colors = ["tab:blue", "lightsteelblue", "tab:green", "tab:olive"]
    pipeline = loop["pipeline"]
    _bars_with_pipeline(ax, labels, values, colors, pipeline)
    goal = LOOPBACK_SHARE * slowest_baseline(loop)["blocks_per_s"]
    ax.axvline(goal, color="k", linestyle="--", label=f"goal: 0.5x slowest baseline ({goal:,.0f})")
    ax.legend(loc="lower right")
    ax.set_title(f"{title}, {pipeline['blocks']:,} blocks")


def _distance_panel(ax, catchup: dict) -> None:
    """Blocks/s against the time added to every request: the pipeline, the broadcaster
    alone, beem batched and beem's default stream, with the goals."""
    loop, distances = catchup["loopback"], distances_of(catchup)
    ms = [0.0] + [1000 * d["latency_s"] for d in distances]
    pipelines = [loop["pipeline"], *(d["pipeline"] for d in distances)]
    series = [
        ("pipeline, end to end", [p.get("blocks_per_s") for p in pipelines], "o-", "tab:red"),
        ("pipeline: broadcaster", [_published_bps(p) for p in pipelines], "s--", "tab:orange"),
        ("beem NodeRPC batches of 50, one at a time",
         [loop["beem_tries"][0]["blocks_per_s"], *(d["beem_batched"]["blocks_per_s"] for d in distances)],
         "^:", "tab:blue"),
        ("beem default stream()",
         [loop["beem_default"]["blocks_per_s"], *(d["beem_default"]["blocks_per_s"] for d in distances)],
         "v:", "lightsteelblue"),
    ]  # fmt: skip
    for label, values, style, color in series:
        points = [(x, y) for x, y in zip(ms, values, strict=True) if y]
        ax.plot(*zip(*points, strict=True), style, color=color, label=label)
        shown = points if label.startswith("pipeline, end") else points[-1:]
        for x, y in shown:
            ax.annotate(fmt(y), (x, y), textcoords="offset points", xytext=(4, 5), fontsize="small")
    loop_bps = loop["pipeline"].get("blocks_per_s")
    shares = [
        (1000 * d["latency_s"], DISTANCE_SHARES[d["latency_s"]] * loop_bps)
        for d in distances
        if d["latency_s"] in DISTANCE_SHARES and loop_bps
    ]
    peers = [
        (1000 * d["latency_s"], PEER_FACTORS[d["latency_s"]] * d["beem_default"]["blocks_per_s"])
        for d in distances
        if d["latency_s"] in PEER_FACTORS
    ]
    goals = (
        (shares, "tab:red", "goals: 0.9x (50 ms), 0.75x (200 ms) the loopback pipeline"),
        (peers, "dimgray", "goals: 25x (50 ms), 100x (200 ms) beem default stream()"),
    )
    for marks, color, label in goals:
        if marks:
            ax.plot(*zip(*marks, strict=True), "_", color=color, markersize=22, mew=2, label=label)
    ax.set_yscale("log")
    ax.set_xticks(ms)
    ax.set_xlabel("milliseconds added to every request (distance to the node)")
    ax.set_ylabel("archive blocks per second (log)")
    ax.legend(loc="lower left", fontsize="x-small")
    ax.set_title(f"Catch-up by distance to the node, {loop['pipeline']['blocks']:,} blocks")


def _scaling_panel(ax, runs: list[dict]) -> None:
    runs = sorted((r for r in runs if not r.get("error")), key=lambda r: r["blocks"])
    if not runs:
        return
    blocks = [r["blocks"] for r in runs]
    ax.plot(blocks, [r["us_per_op"] for r in runs], "o-", label="us/op, end to end")
    ax.plot(blocks, [r["steady_us_per_op"] for r in runs], "o--", label="us/op, after start-up")
    ax.set_xlabel("archive blocks")
    ax.set_ylabel("microseconds per operation")
    ax.set_ylim(bottom=0)
    rss = ax.twinx()
    for process, style in (("broadcaster", "s:"), ("bot", "^:")):
        rss.plot(
            blocks,
            [r["peak_rss_mb"][process] for r in runs],
            style,
            color="gray",
            label=f"peak RSS {process}",
        )
    rss.set_ylabel("peak RSS, MB")
    rss.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    more = rss.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower right")
    ax.set_title("Scaling: time per operation and peak memory")


def _live_panel(ax, live: dict) -> None:
    for mode, m in live["modes"].items():
        values = sorted(m["latencies_s"])
        if values:
            shares = [(i + 1) / len(values) for i in range(len(values))]
            ax.step(
                values,
                shares,
                where="post",
                label=f"{mode}: p50 {m['p50']:.2f} s, p99 {m['p99']:.2f} s",
            )
    ax.axvline(LIVE_P50, color="k", linestyle="--", label=f"goal p50 <= {LIVE_P50} s")
    ax.axvline(LIVE_P99, color="k", linestyle=":", label=f"goal p99 <= {LIVE_P99} s")
    ax.set_xlabel("seconds from block visible at the node to its posts printed")
    ax.set_ylabel("share of blocks")
    ax.legend(loc="best", fontsize="small")
    ax.set_title(f"Live latency CDF, a block every {live['pace_s']:g} s")
