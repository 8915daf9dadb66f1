"""What every benchmark shares: archives, the processes it starts, and their numbers.

Every process goes through `Processes`, a context manager that stops them all (SIGTERM,
then SIGKILL) when the benchmark ends, whether it finishes, fails or is interrupted.
"""

import json
import os
import signal
import socket
import subprocess
import sysconfig
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from replay_node.archive import iter_archive
from replay_node.generate import generate_archive

ROOT = Path(__file__).resolve().parents[1]
# The workspace's scripts; `uv run --with py-spy` runs us from an overlay environment.
_VENV_BIN = ROOT / ".venv" / "bin"
BIN = _VENV_BIN if (_VENV_BIN / "broadcaster").exists() else Path(sysconfig.get_path("scripts"))
CACHE = ROOT / ".data" / "bench"  # generated archives, kept between runs
DOCS = ROOT / "docs" / "bench"
RESULTS = DOCS / "results.json"

START_BLOCK = 5_000_000
SEED = 1
STOP_TIMEOUT = 10.0
PATCH_PREFIX = "@@ -"  # the bot skips root comments whose body is a diff-match-patch edit
_OUR_SETTINGS = ("STEEM_", "NATS_", "START_", "STREAM_", "FETCH_", "NODE_", "LOG_LEVEL")


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
    first = last = None
    ops = 0
    posts = []
    for block in iter_archive(path):
        num = int(block["block_id"][:8], 16)
        first = num if first is None else first
        last = num
        for trx in block["transactions"]:
            for op in trx["operations"]:
                ops += 1
                if _printed_by_bot(op):
                    value = op["value"]
                    posts.append(
                        (f"https://steemit.com/@{value['author']}/{value['permlink']}", num)
                    )
    return {"first": first, "last": last, "ops": ops, "posts": posts}


def _printed_by_bot(op: dict) -> bool:
    if op["type"] != "comment_operation":
        return False
    value = op["value"]
    return value["parent_author"] == "" and not str(value.get("body", "")).startswith(PATCH_PREFIX)


# --- processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**settings: str) -> dict[str, str]:
    """Our environment without any project setting, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_SETTINGS)}
    env.update(PYTHONUNBUFFERED="1", LOG_LEVEL="INFO", **settings)
    return env


class LineReader:
    """Reads a process's stdout in a thread, stamping each line with the time it arrived."""

    def __init__(self, stream) -> None:
        self.lines: list[tuple[float, float, str]] = []  # (monotonic, unix time, line)
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, ""):
            stamp = (time.monotonic(), time.time(), raw.rstrip("\n"))
            with self._cond:
                self.lines.append(stamp)
                self._cond.notify_all()
        stream.close()

    @property
    def count(self) -> int:
        return len(self.lines)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path  # stderr (and stdout, unless read line by line)
    stdout: LineReader | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Processes:
    """The processes of one benchmark step, all stopped when the `with` block ends."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._started: list[Proc] = []

    def __enter__(self) -> "Processes":
        return self

    def __exit__(self, *exc) -> None:
        for proc in reversed(self._started):
            try:
                stop(proc)
            except Exception as err:  # keep stopping the others
                print(f"could not stop {proc.name} (pid {proc.pid}): {err!r}", flush=True)

    def start(
        self, name: str, args: list, env: dict[str, str] | None = None, read_stdout: bool = False
    ) -> Proc:
        log = self.workdir / f"{name}-{len(self._started)}.log"
        with log.open("w") as log_file:
            popen = subprocess.Popen(
                [str(a) for a in args],
                env=env or child_env(),
                cwd=self.workdir,  # no .env file here: only the settings we pass count
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if read_stdout else log_file,
                stderr=log_file,
                text=True,
                errors="replace",
            )
        proc = Proc(name, popen, log, LineReader(popen.stdout) if read_stdout else None)
        self._started.append(proc)
        return proc


def stop(proc: Proc) -> int | None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    if proc.alive:
        proc.popen.send_signal(signal.SIGTERM)
        try:
            proc.popen.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait(5)
    return proc.popen.returncode


def wait_until(condition, timeout: float, what: str, proc: Proc | None = None, every=0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if proc is not None and not proc.alive:
            raise RuntimeError(f"{proc.name} exited while waiting for {what}:\n{proc.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def start_nats(procs: Processes, name: str = "nats-server") -> tuple[str, Proc]:
    """A nats-server with JetStream and a fresh store, on a free loopback port."""
    port = free_port()
    store = procs.workdir / f"{name}-{port}-store"
    args = [BIN / "nats-server", "-a", "127.0.0.1", "-p", port, "-js", "-sd", store]
    proc = procs.start(name, args)
    wait_until(lambda: "Server is ready" in proc.log.read_text(), 15, "nats-server", proc)
    return f"nats://127.0.0.1:{port}", proc


def start_replay_node(procs: Processes, path: Path, *options: str) -> tuple[str, Proc]:
    """The replay node serving `path`, on a free loopback port, once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = procs.start("replay-node", [BIN / "replay-node", path, "--port", port, *options])
    wait_until(lambda: _answers(url), 120, "the replay node to load its archive", proc, 0.2)
    return url, proc


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/status", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


# --- process figures -------------------------------------------------------------------


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    for block in iter_archive(path):
        block_id, timestamp = block["block_id"], block["timestamp"]
        num = str(int(block_id[:8], 16))
        count = 0
        for t, trx in enumerate(block["transactions"]):
            for o, op in enumerate(trx["operations"]):
                count += 1
                headers = {
                    "Nats-Msg-Id": f"{block_id}/{t}/{o}",
                    "Steem-Block-Num": num,
                    "Steem-Block-Id": block_id,
                    "Steem-Trx-Id": block["transaction_ids"][t],
                    "Steem-Timestamp": timestamp,
                }
                subject = "steem.op." + op["type"].removesuffix("_operation")
                yield subject, _encode(op["value"]), headers
        closing = {
            "block_num": int(num),
            "block_id": block_id,
            "previous": block["previous"],
            "timestamp": timestamp,
            "op_count": count,
        }
        headers = {
            "Nats-Msg-Id": f"{block_id}/block",
            "Steem-Block-Num": num,
            "Steem-Block-Id": block_id,
            "Steem-Timestamp": timestamp,
        }
        yield "steem.block", _encode(closing), headers


def _encode(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
