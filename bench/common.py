"""What every benchmark shares: cached archives, the processes it starts, and their numbers.

Processes, servers, the archives' facts (the oracle) and the environment scrub come from
the test kit (steem_testing), as for the tests. What is the benchmarks' own lives here:
the archives generated once and cached, the results file, percentiles, the CPU meter, and
processes as the scripts read them (a log file each; the bot's stdout as (monotonic, unix
time, line)). `Processes` stops every process it started (SIGTERM, then SIGKILL) when the
benchmark ends, whether it finishes, fails or is interrupted.
"""

import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipc_config.chain import block_num_of
from replay_node.archive import iter_archive
from replay_node.generate import generate_archive
from steem_testing import servers
from steem_testing.env import clean_env
from steem_testing.oracle import count_ops, new_posts, published_messages
from steem_testing.paths import BIN, ROOT  # noqa: F401 (the scripts take BIN from here)
from steem_testing.processes import LineCollector, ProcessSet
from steem_testing.processes import Proc as KitProc
from steem_testing.proctree import cpu_seconds, rss_mb
from steem_testing.waiting import wait_until as kit_wait_until

CACHE = ROOT / ".data" / "bench"  # generated archives, kept between runs
DOCS = ROOT / "docs" / "bench"
RESULTS = DOCS / "results.json"

START_BLOCK = 5_000_000
SEED = 1


# --- archives ------------------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    """A generated block archive and what the pipeline must make of it."""

    path: Path
    first: int
    last: int
    ops: int
    posts: list[tuple[str, int]]  # (url, block number) of each line the bot prints, in order

    @property
    def blocks(self) -> int:
        return self.last - self.first + 1


def archive(blocks: int, seed: int = SEED) -> Archive:
    """The archive of `blocks` blocks from START_BLOCK, generated once and cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"chain-{blocks}-from-{START_BLOCK}-seed{seed}.jsonl.gz"
    facts_path = path.with_suffix(".facts.json")
    if not path.exists():
        print(f"generating {path.name} ...", flush=True)
        partial = path.with_name(path.name + ".partial.jsonl.gz")
        generate_archive(partial, blocks, START_BLOCK, seed=seed)
        partial.rename(path)
        facts_path.unlink(missing_ok=True)
    if not facts_path.exists():
        facts_path.write_text(json.dumps(_facts_of(path)))
    facts = json.loads(facts_path.read_text())
    posts = [(url, num) for url, num in facts["posts"]]
    return Archive(path, facts["first"], facts["last"], facts["ops"], posts)


def _facts_of(path: Path) -> dict:
    """First and last block, operations and the bot's lines of an archive, in one pass."""
    nums: list[int] = []
    ops = 0

    def blocks() -> Iterator[dict]:
        nonlocal ops
        for block in iter_archive(path):
            nums.append(block_num_of(block["block_id"]))
            ops += count_ops([block])
            yield block

    posts = list(new_posts(blocks()))
    return {"first": nums[0], "last": nums[-1], "ops": ops, "posts": posts}


# --- processes -----------------------------------------------------------------------


def child_env(**settings: str) -> dict[str, str]:
    """The kit's clean environment at LOG_LEVEL=INFO, plus `settings`."""
    return clean_env({"LOG_LEVEL": "INFO", **settings})


class StampedLines:
    """A process's stdout as the scripts read it: `(monotonic, unix time, line)` each."""

    def __init__(self, collector: LineCollector) -> None:
        self._collector = collector

    @property
    def lines(self) -> list[tuple[float, float, str]]:
        c = self._collector
        return list(zip(c.clock, c.times, c.lines, strict=False))

    @property
    def count(self) -> int:
        return len(self._collector.lines)


class Proc:
    """One process of a benchmark (the kit's Proc): its log file, or for the bot its
    stdout line by line."""

    def __init__(self, proc: KitProc) -> None:
        self.proc = proc
        self.name = proc.name
        self.popen = proc.popen
        self.log = proc.log  # stderr (and stdout, unless read line by line); None: collected
        self.stdout = StampedLines(proc.stdout) if proc.stdout is not None else None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.alive

    def log_tail(self, lines: int = 15) -> str:
        return self.proc.tail(lines)


class Processes:
    """The processes of one benchmark step, all stopped when the `with` block ends."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir  # no .env file here: only the settings we pass count
        self._set = ProcessSet(workdir)

    def __enter__(self) -> "Processes":
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._set.stop_all()
        except Exception as err:  # every other process was stopped; say which one was not
            print(f"could not stop every process: {err!r}", flush=True)

    def start(
        self, name: str, args: list, env: dict[str, str] | None = None, read_stdout: bool = False
    ) -> Proc:
        log = self.workdir / f"{name}-{len(self._set.started)}.log"
        spawned = self._set.spawn(
            args, name=name, env=env or child_env(), log=log, log_stdout=not read_stdout
        )
        return Proc(spawned)


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, proc: Proc | None = None, every=0.05
):
    """The kit's wait_until, failing at once when `proc` exits meanwhile (with its log)."""

    def met():
        result = condition()
        if not result and proc is not None and not proc.alive:
            raise RuntimeError(f"{proc.name} exited while waiting for {what}:\n{proc.log_tail()}")
        return result

    try:
        return kit_wait_until(met, timeout, what, every)
    except AssertionError as err:
        raise RuntimeError(str(err)) from None


def start_nats(procs: Processes, name: str = "nats-server") -> tuple[str, Proc]:
    """A nats-server with JetStream and a fresh store, on a free loopback port."""
    port = servers.free_port()
    store = procs.workdir / f"{name}-{port}-store"
    server = servers.NatsServer(procs._set.spawn, store, port, name=name).start()
    return server.url, Proc(server.proc)


def start_replay_node(procs: Processes, path: Path, *options: str) -> tuple[str, Proc]:
    """The replay node serving `path`, on a free loopback port, once it answers."""
    node = servers.start_replay_node(procs._set.spawn, path, *options, timeout=120)
    return node.url, Proc(node.proc)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


# --- process figures -------------------------------------------------------------------


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM), in MB."""
    return rss_mb(pid, peak=True)


class CpuMeter:
    """CPU seconds each process used between `start()` and `read()`."""

    def __init__(self, procs: dict[str, Proc]) -> None:
        self._procs = procs
        self._start: dict[str, float] = {}

    def start(self) -> None:
        self._start = {name: cpu_seconds(p.pid) for name, p in self._procs.items()}

    def add(self, name: str, proc: Proc) -> None:
        """A process started after `start()`: all its CPU time counts."""
        self._procs[name] = proc

    def read(self) -> dict[str, float]:
        return {
            name: round(cpu_seconds(p.pid) - self._start.get(name, 0.0), 2)
            for name, p in self._procs.items()
        }


# --- results -----------------------------------------------------------------------------


def load_results() -> dict:
    try:
        return json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}


def save_results(section: str, value: dict) -> dict:
    """Replace one section of docs/bench/results.json, keeping the others."""
    results = load_results()
    results[section] = value
    DOCS.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (`share` between 0 and 1)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def iter_op_messages(path: Path) -> Iterator[tuple[str, bytes, dict[str, str]]]:
    """What the broadcaster publishes for an archive: every op, then `steem.block`."""
    return published_messages(iter_archive(path))
