"""Where the pipeline's time goes during a catch-up: py-spy on the broadcaster and the bot.

    uv run --with py-spy python bench/profiling.py               # 7,000 blocks over loopback
    uv run --with py-spy python bench/profiling.py --blocks 2000

Runs one catch-up like bench/catchup.py, with py-spy sampling the `broadcaster` and
the `bot` (100 Hz, `--gil`: only the thread holding the GIL; without it, threads blocked
in a queue or a socket read were counted too). Writes, under docs/bench/profiles/, the
folded stacks (`*.folded`, for flamegraph tools or speedscope) and a text summary
(`*.txt`): how busy each thread was, and the functions and packages that used the CPU,
by own time and by inclusive time.
"""

import argparse
import asyncio
import re
import shutil
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import DOCS, Processes, archive, start_replay_node
from pipeline import PipelineRun, start_broadcaster, start_consumer, watch_catchup

PROFILES = DOCS / "profiles"
RATE = 100  # samples per second
TOP = 25
_THREAD = re.compile(r"^thread \((?P<tid>\d+)\)(?:: (?P<name>.*))?$")
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=7_000, help="archive blocks (default 7000)")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit(
            "py-spy not found: run with `uv run --with py-spy python bench/profiling.py`"
        )
    chain = archive(args.blocks)
    PROFILES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="steem-bench-profile-") as tmp:
        workdir = Path(tmp)
        with Processes(workdir) as procs:
            node_url, _ = start_replay_node(procs, chain.path, "--pace", "0")
            consumer = start_consumer(procs)
            launched = time.monotonic()
            broadcaster = start_broadcaster(procs, consumer, node_url, chain.first)
            targets = {"broadcaster": broadcaster, "bot": consumer.bot}
            spies = {
                name: procs.start(f"py-spy-{name}", _record_args(py_spy, proc.pid, name))
                for name, proc in targets.items()
            }
            run = PipelineRun("profiled", chain.blocks, chain.ops, len(chain.posts))
            watched = [broadcaster, consumer.bot, consumer.nats]
            asyncio.run(
                watch_catchup(
                    consumer.nats_url, chain, consumer.bot, watched, launched, run.timeline, 600
                )
            )
            seconds = time.monotonic() - launched
            for spy in spies.values():  # py-spy writes its file on SIGINT
                spy.popen.send_signal(signal.SIGINT)
            for spy in spies.values():
                spy.popen.wait(30)
    print(
        f"catch-up of {chain.blocks:,} blocks ({chain.ops:,} ops) under py-spy: "
        f"{run.timeline.acked:.1f} s ({chain.blocks / run.timeline.acked:,.0f} blocks/s)\n"
    )
    for name in targets:
        text = summarise(PROFILES / f"{name}.folded", name, seconds)
        (PROFILES / f"{name}.txt").write_text(text)
        print(text)
    print(f"profiles: {PROFILES}")


def _record_args(py_spy: str, pid: int, name: str) -> list:
    return [
        py_spy, "record", "--pid", pid, "--rate", RATE, "--threads",
        "--full-filenames", "--gil", "--format", "raw", "--output", PROFILES / f"{name}.folded",
    ]  # fmt: skip


# --- summary ---------------------------------------------------------------------------------


def read_folded(path: Path) -> list[tuple[str, list[str], int]]:
    """(thread, frames root first, samples) per line of py-spy's raw output."""
    parsed = []
    names: dict[str, str] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        head, *frames = stack.split(";")
        found = _THREAD.match(head)
        tid = found["tid"] if found else head
        if found and found["name"]:
            names[tid] = found["name"]
        parsed.append((tid, frames, int(count)))
    # py-spy does not always get a thread's name: use the one it got elsewhere.
    return [(names.get(tid, f"thread {tid}"), frames, count) for tid, frames, count in parsed]


def function_of(frame: str) -> str:
    """`name (path/to/file.py:12)` -> `name (file.py)`, without the line."""
    found = _FRAME.match(frame)
    if not found:
        return frame
    return f"{found['function']} ({_short(found['file'])})"


def package_of(frame: str) -> str:
    found = _FRAME.match(frame)
    path = found["file"] if found else ""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/src/" in path:  # our workspace members
        return path.split("/src/", 1)[1].split("/", 1)[0] + " (ours)"
    if "/lib/python3" in path:
        module = path.split("/lib/python3", 1)[1].split("/", 2)[1].removesuffix(".py")
        return f"stdlib {module}"
    return path or "?"


def _short(path: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def summarise(path: Path, name: str, seconds: float) -> str:
    stacks = read_folded(path)
    total = sum(count for _, _, count in stacks)
    start_up = sum(count for _, frames, count in stacks if _importing(frames))
    running = [
        (t, frames, count) for t, frames, count in stacks if frames and not _importing(frames)
    ]
    work = sum(count for _, _, count in running)
    lines = [
        f"== {name}: {total:,} CPU samples at {RATE} Hz over {seconds:.1f} s of catch-up",
        f"   {100 * start_up / total:.1f}% importing modules at start-up; the rankings below "
        f"are of the other {work:,} samples",
    ]
    lines += _threads_section(stacks, seconds)
    own, inclusive, packages = Counter(), Counter(), Counter()
    for _, frames, count in running:
        own[function_of(frames[-1])] += count
        packages[package_of(frames[-1])] += count
        for function in {function_of(f) for f in frames if not _plumbing(f)}:
            inclusive[function] += count
    lines += _ranked("CPU by package (own time of the innermost frame)", packages, work, 15)
    lines += _ranked("Functions by own time", own, work, TOP)
    lines += _ranked(
        "Functions by inclusive time (asyncio/threading plumbing left out)", inclusive, work, TOP
    )
    return "\n".join(lines) + "\n"


def _importing(frames: list[str]) -> bool:
    return any("<frozen importlib" in f for f in frames)


def _plumbing(frame: str) -> bool:
    """Frames every sample of a thread goes through, which rank nothing."""
    package = package_of(frame)
    return (
        package in ("stdlib asyncio", "stdlib threading")
        or frame.startswith(("<module> ", "main ", "run "))
        or function_of(frame).startswith("Worker.run ")
    )


def _threads_section(stacks, seconds: float) -> list[str]:
    per_thread = Counter()
    for thread, _, count in stacks:
        per_thread[thread] += count
    lines = ["", "Threads: CPU samples, and share of the catch-up's wall time spent on CPU"]
    for thread, count in per_thread.most_common():
        lines.append(f"  {count:8,}  {100 * count / (RATE * seconds):5.1f}% busy  {thread}")
    return lines


def _ranked(title: str, counter: Counter, total: int, top: int) -> list[str]:
    lines = ["", title]
    for key, count in counter.most_common(top):
        lines.append(f"  {100 * count / total:5.1f}%  {key}")
    return lines


if __name__ == "__main__":
    main()
