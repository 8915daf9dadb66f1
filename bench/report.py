"""Turning docs/bench/results.json into the printed tables and the goal verdicts (the
chart is drawn by chart.py).

uv run python bench/report.py     # print the tables and redraw the chart from the JSON
"""

from common import load_results

# The goals of issue 4.
LOOPBACK_SHARE = 0.5  # pipeline >= half of the slowest baseline
# Issues 4 and 12, by distance (seconds added to every request): the pipeline against
# beem's default stream at the same distance, and against the pipeline over loopback.
PEER_FACTORS = {0.05: 25.0, 0.2: 100.0}
DISTANCE_SHARES = {0.05: 0.9, 0.2: 0.75}
LIVE_P50, LIVE_P99, LIVE_MIN_BLOCKS = 0.1, 0.2, 100  # issue 13's goals
VOPS_SHARE = 0.6  # issue 11: with virtual operations >= 0.6x the rate without them
RSS_LIMITS_MB = {"broadcaster": 200.0, "bot": 100.0}
MEMORY_OPS = 100_000
FLAT_TIME = 1.25  # slowest steady time per op <= 1.25x the fastest, over the sizes
FLAT_RSS = (1.2, 10.0)  # peak RSS at the largest size <= max(1.2x, +10 MB) the smallest


def fmt(value, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]

    def line(cells) -> str:
        first, *rest = cells
        return "  ".join(
            [str(first).ljust(widths[0])]
            + [str(c).rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


# --- catch-up ------------------------------------------------------------------------------


def slowest_baseline(loopback: dict) -> dict:
    stages = [loopback["beem_fastest"], loopback["nats_publish"], loopback["nats_consume"]]
    return min(stages, key=lambda m: m["blocks_per_s"])


def _ratio(pipeline: dict, stage: dict) -> str:
    if not pipeline.get("blocks_per_s"):
        return "-"
    return f"{pipeline['blocks_per_s'] / stage['blocks_per_s']:.2f}x"


def _stage_row(label: str, m: dict, pipeline: dict) -> list[str]:
    return [
        label,
        fmt(m["blocks"]),
        fmt(m["ops"]),
        fmt(m["seconds"], 2),
        fmt(m["blocks_per_s"]),
        fmt(m["ops_per_s"]),
        _ratio(pipeline, m),
    ]


def _pipeline_rows(pipeline: dict) -> list[list[str]]:
    if pipeline.get("error"):
        return [["pipeline FAILED: " + pipeline["error"].splitlines()[0][:90]] + ["-"] * 6]
    t = pipeline["timeline_s"]
    published = {
        "blocks": pipeline["blocks"],
        "ops": pipeline["ops"],
        "seconds": t["published"],
        "blocks_per_s": pipeline["blocks"] / t["published"],
        "ops_per_s": pipeline["ops"] / t["published"],
    }
    return [
        _stage_row("pipeline: broadcaster (last block in stream)", published, pipeline),
        _stage_row("pipeline: end to end (bot acked last comment)", pipeline, pipeline),
    ]


HEADERS = ["stage", "blocks", "ops/msgs", "s", "blocks/s", "ops/s", "pipeline/stage"]


def loopback_table(loopback: dict) -> str:
    p = loopback["pipeline"]
    fastest = loopback["beem_fastest"]["name"]
    rows = [
        _stage_row(("(a) " if m["name"] == fastest else "    ") + m["name"], m, p)
        for m in loopback["beem_tries"]
    ]
    rows.append(_stage_row("    " + loopback["beem_default"]["name"], loopback["beem_default"], p))
    fastest = loopback["nats_publish"]["name"]
    rows += [
        _stage_row(("(b) " if m["name"] == fastest else "    ") + m["name"], m, p)
        for m in loopback.get("nats_publish_tries", [loopback["nats_publish"]])
    ]
    rows.append(_stage_row("(c) " + loopback["nats_consume"]["name"], loopback["nats_consume"], p))
    rows += _pipeline_rows(p)
    return table(HEADERS, rows)


def distances_of(catchup: dict) -> list[dict]:
    """The runs at a distance (older results hold one, under `latency`)."""
    return catchup.get("distances") or [catchup["latency"]]


def latency_table(latency: dict) -> str:
    p = latency["pipeline"]
    rows = [
        _stage_row(latency["beem_default"]["name"], latency["beem_default"], p),
        _stage_row(latency["beem_batched"]["name"], latency["beem_batched"], p),
        *_pipeline_rows(p),
    ]
    return table(HEADERS, rows)


def distance_table(catchup: dict) -> str:
    """Each distance on one line: the pipeline, its share of loopback, the peer's figure."""
    loop = catchup["loopback"]["pipeline"]
    headers = [
        "per request", "pipeline blocks/s", "x loopback", "broadcaster blocks/s",
        "beem default blocks/s", "pipeline/beem default", "beem batched blocks/s",
        "RSS brd MB",
    ]  # fmt: skip
    rows = [_distance_row("0 ms (loopback)", loop, loop, None, None)]
    for d in distances_of(catchup):
        label = f"{d['latency_s'] * 1000:.0f} ms"
        rows.append(_distance_row(label, d["pipeline"], loop, d["beem_default"], d["beem_batched"]))
    return table(headers, rows)


def _distance_row(label, p: dict, loop: dict, default: dict | None, batched: dict | None):
    bps, published = p.get("blocks_per_s"), _published_bps(p)
    share = bps / loop["blocks_per_s"] if bps and loop.get("blocks_per_s") else None
    peer = bps / default["blocks_per_s"] if bps and default else None
    return [
        label, fmt(bps), fmt(share, 2, "x"), fmt(published),
        fmt(default and default["blocks_per_s"], 1), fmt(peer, 0, "x"),
        fmt(batched and batched["blocks_per_s"]), fmt(p.get("peak_rss_mb", {}).get("broadcaster"), 1),
    ]  # fmt: skip


def _published_bps(p: dict) -> float | None:
    t = p.get("timeline_s") or {}
    return p["blocks"] / t["published"] if t.get("published") else None


def pipeline_details(runs: list[dict]) -> str:
    headers = [
        "pipeline run", "blocks", "ops", "start-up s", "published s", "acked s",
        "us/op", "us/op steady", "RSS brd MB", "RSS bot MB",
        "CPU brd s", "CPU bot s", "CPU nats s", "CPU node s", "CPU ms/block", "output",
    ]  # fmt: skip
    rows = []
    for r in runs:
        if r.get("error"):
            rows.append([r["label"], fmt(r["blocks"]), fmt(r["ops"])] + ["-"] * 12 + ["FAILED"])
            continue
        t, rss, cpu = r["timeline_s"], r["peak_rss_mb"], r["cpu_s"]
        rows.append([
            r["label"], fmt(r["blocks"]), fmt(r["ops"]),
            fmt(t["first_block"], 2), fmt(t["published"], 2), fmt(t["acked"], 2),
            fmt(r["us_per_op"], 1), fmt(r["steady_us_per_op"], 1),
            fmt(rss.get("broadcaster"), 1), fmt(rss.get("bot"), 1),
            fmt(cpu.get("broadcaster"), 1), fmt(cpu.get("bot"), 1),
            fmt(cpu.get("nats-server"), 1), fmt(cpu.get("replay-node"), 1),
            fmt(1000 * sum(cpu.values()) / r["blocks"], 2),
            "ok" if r["output_ok"] else "WRONG",
        ])  # fmt: skip
    return table(headers, rows)


# --- live latency ----------------------------------------------------------------------------


def live_table(live: dict) -> str:
    headers = ["mode", "blocks", "posts", "p50 s", "p90 s", "p99 s", "max s", "pauses"]
    rows = []
    for mode, m in live["modes"].items():
        rows.append([
            mode, fmt(m["blocks"]), fmt(m["posts"]), fmt(m["p50"], 3), fmt(m["p90"], 3),
            fmt(m["p99"], 3), fmt(m["max"], 3), fmt(m.get("pauses")),
        ])  # fmt: skip
    return table(headers, rows)


# --- goals ------------------------------------------------------------------------------------


def goals(results: dict) -> list[tuple[str, str, str, bool | None]]:
    """(goal, measured, target, held) for each goal that the results can judge."""
    found = []
    catchup = results.get("catchup")
    if catchup:
        found += _throughput_goals(catchup)
        found += _memory_goals(catchup)
        found += _scaling_goals(catchup)
    live = results.get("live_latency")
    if live:
        found += _live_goals(live)
    return found


def _throughput_goals(catchup: dict) -> list:
    out = []
    loop = catchup["loopback"]
    slowest = slowest_baseline(loop)
    bps = loop["pipeline"].get("blocks_per_s")
    target = LOOPBACK_SHARE * slowest["blocks_per_s"]
    out.append((
        "catch-up over loopback >= 0.5x slowest baseline",
        f"{fmt(bps)} blocks/s",
        f">= {fmt(target)} blocks/s (0.5x {slowest['name']})",
        bps is not None and bps >= target,
    ))  # fmt: skip
    loop_bps = loop["pipeline"].get("blocks_per_s")
    without = loop.get("pipeline_without_vops", {}).get("blocks_per_s")
    if without:
        out.append((
            f"catch-up with virtual ops >= {VOPS_SHARE}x without (same run)",
            f"{fmt(loop_bps)} blocks/s ({fmt(loop_bps and loop_bps / without, 2)}x)",
            f">= {fmt(VOPS_SHARE * without)} blocks/s",
            loop_bps is not None and loop_bps >= VOPS_SHARE * without,
        ))  # fmt: skip
    for d in distances_of(catchup):
        ms, bps = f"{d['latency_s'] * 1000:.0f} ms", d["pipeline"].get("blocks_per_s")
        share = DISTANCE_SHARES.get(d["latency_s"])
        if share is not None and loop_bps:
            target = share * loop_bps
            out.append((
                f"catch-up at {ms}/request >= {share}x loopback (same run)",
                f"{fmt(bps)} blocks/s ({fmt(bps and bps / loop_bps, 2)}x)",
                f">= {fmt(target)} blocks/s",
                bps is not None and bps >= target,
            ))  # fmt: skip
        factor = PEER_FACTORS.get(d["latency_s"])
        if factor is not None:
            target = factor * d["beem_default"]["blocks_per_s"]
            out.append((
                f"catch-up at {ms}/request >= {factor:.0f}x beem default stream()",
                f"{fmt(bps)} blocks/s",
                f">= {fmt(target)} blocks/s",
                bps is not None and bps >= target,
            ))  # fmt: skip
    return out


def _memory_goals(catchup: dict) -> list:
    run = catchup["loopback"]["pipeline"]
    out = []
    for process, limit in RSS_LIMITS_MB.items():
        peak = run.get("peak_rss_mb", {}).get(process)
        out.append((
            f"peak RSS of the {process}, {fmt(run['ops'])}-op catch-up",
            fmt(peak, 1, " MB"),
            f"<= {limit:.0f} MB" + ("" if run["ops"] >= MEMORY_OPS else " (archive < 100k ops!)"),
            peak is not None and peak <= limit,
        ))  # fmt: skip
    limit = RSS_LIMITS_MB["broadcaster"]
    for d in distances_of(catchup):
        peak = d["pipeline"].get("peak_rss_mb", {}).get("broadcaster")
        out.append((
            f"peak RSS of the broadcaster at {d['latency_s'] * 1000:.0f} ms/request",
            fmt(peak, 1, " MB"),
            f"<= {limit:.0f} MB",
            peak is not None and peak <= limit,
        ))  # fmt: skip
    return out


def _scaling_goals(catchup: dict) -> list:
    runs = [r for r in sorted(catchup["scaling"], key=lambda r: r["blocks"]) if not r.get("error")]
    if len(runs) < 2:
        return []
    small, large = runs[0], runs[-1]
    steady = [r["steady_us_per_op"] for r in runs]
    sizes = "/".join(f"{r['blocks']:,}" for r in runs)
    out = [(
        f"time per op flat over {sizes} blocks",
        " / ".join(fmt(s, 1) for s in steady) + " us/op after start-up",
        f"max <= {FLAT_TIME}x min",
        max(steady) <= FLAT_TIME * min(steady),
    )]  # fmt: skip
    share, slack = FLAT_RSS
    for process in RSS_LIMITS_MB:
        a, b = small["peak_rss_mb"][process], large["peak_rss_mb"][process]
        out.append((
            f"peak RSS of the {process} flat, {small['blocks']:,} -> {large['blocks']:,} blocks",
            f"{fmt(a, 1)} -> {fmt(b, 1)} MB",
            f"<= max({share}x, +{slack:.0f} MB)",
            b <= max(share * a, a + slack),
        ))  # fmt: skip
    return out


def _live_goals(live: dict) -> list:
    out = []
    for mode, m in live["modes"].items():
        enough = m["blocks"] >= LIVE_MIN_BLOCKS and live["pace_s"] == 3.0
        note = "" if enough else f" (only {m['blocks']} blocks at pace {live['pace_s']} s)"
        out.append((
            f"live latency, {mode} mode",
            f"p50 {fmt(m['p50'], 3)} s, p99 {fmt(m['p99'], 3)} s, {fmt(m.get('pauses'))} pauses",
            f"p50 <= {LIVE_P50} s, p99 <= {LIVE_P99} s, no pause, >= {LIVE_MIN_BLOCKS} blocks{note}",
            m["p50"] is not None
            and m["p50"] <= LIVE_P50
            and m["p99"] <= LIVE_P99
            and m.get("pauses") == 0
            and enough,
        ))  # fmt: skip
    return out


def goals_table(results: dict) -> str:
    rows = [
        [g, measured, target, "PASS" if ok else "FAIL"]
        for g, measured, target, ok in goals(results)
    ]
    return table(["goal", "measured", "target", ""], rows)


def print_report(results: dict) -> None:
    catchup = results.get("catchup")
    if catchup:
        loop, distances = catchup["loopback"], distances_of(catchup)
        print(_code_line(catchup))
        print(f"\nCatch-up over loopback: {_archive_line(loop['pipeline'])}")
        print(loopback_table(loop))
        for d in distances:
            print(f"\nCatch-up with {d['latency_s'] * 1000:.0f} ms added to every request")
            print(latency_table(d))
        print("\nCatch-up by distance to the node (same archive, same run)")
        print(distance_table(catchup))
        print(
            "\nPipeline runs (seconds from the broadcaster's launch; CPU seconds during the run; "
            "CPU ms/block: all four processes)"
        )
        without_vops = [loop["pipeline_without_vops"]] if "pipeline_without_vops" in loop else []
        print(
            pipeline_details(
                [*catchup["scaling"], *without_vops, *(d["pipeline"] for d in distances)]
            )
        )
    live = results.get("live_latency")
    if live:
        print(
            f"\nLive latency (bench/latency.py, {live['finished']}): block visible at the node "
            f"-> bot printed its posts, pace {live['pace_s']} s"
        )
        print(live_table(live))
    print("\nGoals")
    print(goals_table(results))


def _code_line(catchup: dict) -> str:
    code, m = catchup.get("code", {}), catchup.get("machine", {})
    changed = ", ".join(code.get("uncommitted", [])) or "none"
    line = (
        f"\nCatch-up run of {catchup['started']} ({catchup.get('seconds', '?')} s), "
        f"{m.get('cpus')} CPUs, load {m.get('load_avg_at_start')}; code: commit "
        f"{code.get('commit')}, uncommitted changes: {changed}"
    )
    if code.get("pythonpath"):
        line += f"\nPYTHONPATH={code['pythonpath']}"
    return line


def _archive_line(run: dict) -> str:
    return f"{run['blocks']:,} blocks, {run['ops']:,} operations, {run['posts']:,} new posts"


def main() -> None:
    from chart import CHART, draw_chart  # chart.py builds on this module

    results = load_results()
    print_report(results)
    draw_chart(results)
    print(f"\nchart: {CHART}")


if __name__ == "__main__":
    main()
