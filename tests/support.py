"""Helpers for tests that run the real processes on loopback ports."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
BIN = Path(sysconfig.get_path("scripts"))
FIXTURES = ROOT / "tests" / "fixtures"
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float, what: str, every: float = 0.05):
    """Poll `condition` until it returns something true; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def wait_showing(condition, timeout: float, what: str, *procs: "Proc"):
    """wait_until, and on a timeout the last lines the given processes logged."""
    try:
        return wait_until(condition, timeout, what)
    except AssertionError as err:
        tails = [f"--- {proc.name}:\n" + "\n".join(proc.stderr.lines[-12:]) for proc in procs]
        raise AssertionError("\n".join([str(err), *tails])) from None


class LineCollector:
    """Reads a pipe in a thread and keeps every line, so a test can wait for one."""

    def __init__(self, stream, echo: str | None = None) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._echo = echo
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, ""):
            line = raw.rstrip("\n")
            if self._echo is not None:
                print(f"[{self._echo}] {line}", file=sys.stderr)
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        stream.close()

    def wait_for(self, pattern: str, timeout: float = 15.0, start: int = 0) -> re.Match:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            index = start
            while True:
                while index < len(self.lines):
                    found = regex.search(self.lines[index])
                    if found:
                        return found
                    index += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = "\n".join(self.lines[-20:])
                    raise AssertionError(f"no line matching {pattern!r} in {timeout} s:\n{tail}")
                self._cond.wait(left)

    def text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)


@dataclass
class Proc:
    """A process started by a test, with its output collected line by line."""

    args: list[str]
    env: dict[str, str]
    cwd: Path
    name: str
    popen: subprocess.Popen | None = None
    stdout: LineCollector | None = None
    stderr: LineCollector | None = None
    new_session: bool = False
    history: list[str] = field(default_factory=list)

    def start(self) -> "Proc":
        self.popen = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=self.new_session,
        )
        # TEST_ECHO=1 copies every process's output to the test's stderr (use with -s).
        echo = self.name if os.environ.get("TEST_ECHO") else None
        self.stdout = LineCollector(self.popen.stdout, echo)
        self.stderr = LineCollector(self.popen.stderr, echo)
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive:
            if self.new_session:
                os.killpg(self.popen.pid, signum)
            else:
                self.popen.send_signal(signum)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time. Returns the exit code."""
        if self.popen is None:
            return None
        if self.alive:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(5)
        return self.popen.returncode


class NatsServer:
    """A real nats-server with JetStream on a free loopback port."""

    def __init__(self, spawn: Callable[..., Proc], store_dir: Path) -> None:
        self._spawn = spawn
        self.store_dir = store_dir
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: Proc | None = None

    def start(self) -> "NatsServer":
        self.proc = self._spawn(
            [BIN / "nats-server", "-a", "127.0.0.1", "-p", self.port, "-js", "-sd", self.store_dir],
            name="nats-server",
        )
        self.proc.stderr.wait_for("Server is ready", timeout=15)
        return self

    def kill(self) -> None:
        self.proc.signal(signal.SIGKILL)
        self.proc.popen.wait(5)

    def stop(self) -> None:
        self.proc.stop()


class ReplayNode:
    def __init__(self, proc: Proc, url: str) -> None:
        self.proc = proc
        self.url = url


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    subject: str
    headers: dict[str, str]
    data: bytes


async def stream_messages(url: str, stream: str = "STEEM") -> list[StoredMessage]:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(stream)).state
        messages = []
        for seq in range(state.first_seq, state.last_seq + 1):
            try:
                msg = await js.get_msg(stream, seq)
            except NotFoundError:
                continue
            messages.append(StoredMessage(msg.seq, msg.subject, dict(msg.headers or {}), msg.data))
        return messages
    finally:
        await nc.close()


async def last_closed_block(url: str) -> int | None:
    import json

    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url, allow_reconnect=False)
    try:
        msg = await nc.jetstream().get_last_msg("STEEM", "steem.block")
        return json.loads(msg.data)["block_num"]
    except NotFoundError:
        return None
    finally:
        await nc.close()


def _proc_table() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, argv) of every process we can see."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        table[int(entry.name)] = (ppid, [a.decode(errors="replace") for a in argv if a])
    return table


def descendants(root: int) -> dict[int, list[str]]:
    """Every process below `root`, with its argv."""
    table = _proc_table()
    found: dict[int, list[str]] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, argv) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = argv
                frontier.append(pid)
    return found


def console_script_pids(root: int, script: str) -> list[int]:
    """Pids below `root` running our console script `script` itself (not its restart loop)."""
    return [
        pid
        for pid, argv in descendants(root).items()
        if len(argv) >= 2 and Path(argv[1]).name == script and Path(argv[1]).parent == BIN
    ]


# -- what the stream and the bot must hold, computed from the archive ------------

OPERATION_SUFFIX = "_operation"
SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
PATCH_PREFIX = "@@ -"
URL_LINE = re.compile(r"^\S+ bot\.1\s+\| (https://steemit\.com/\S+)$")


def op_subject(op: Any) -> str:
    """Where the broadcaster must publish this operation (steem.invalid if malformed)."""
    if isinstance(op, dict) and set(op) == {"type", "value"}:
        name = op["type"]
    elif isinstance(op, list) and len(op) == 2:
        name = op[0]
    else:
        return "steem.invalid"
    name = name.removesuffix(OPERATION_SUFFIX) if isinstance(name, str) else ""
    return f"steem.op.{name}" if SUBJECT_TOKEN.match(name) else "steem.invalid"


def op_body(op: Any) -> Any:
    """The payload the broadcaster must publish: the body, or the whole op if malformed."""
    if op_subject(op) == "steem.invalid":
        return op
    return op["value"] if isinstance(op, dict) else op[1]


def expected_messages(blocks: list[dict]) -> list[tuple[str, str]]:
    """(subject, Nats-Msg-Id) of everything the stream must hold, in chain order."""
    expected = []
    for block in blocks:
        for t, trx in enumerate(block["transactions"]):
            for o, op in enumerate(trx["operations"]):
                expected.append((op_subject(op), f"{block['block_id']}/{t}/{o}"))
        expected.append(("steem.block", f"{block['block_id']}/block"))
    return expected


def stored(messages) -> list[tuple[str, str]]:
    return [(m.subject, m.headers.get("Nats-Msg-Id", "")) for m in messages]


def count_ops(blocks: list[dict]) -> int:
    return sum(len(trx["operations"]) for block in blocks for trx in block["transactions"])


def is_new_post(op: Any) -> bool:
    if op_subject(op) != "steem.op.comment" or not isinstance(op_body(op), dict):
        return False
    body = op_body(op)
    return body.get("parent_author") == "" and not str(body.get("body", "")).startswith(
        PATCH_PREFIX
    )


def expected_posts(blocks: list[dict]) -> list[str]:
    """URLs the bot must print: top-level comments that are not edits sent as patches."""
    return [
        f"https://steemit.com/@{op_body(op)['author']}/{op_body(op)['permlink']}"
        for block in blocks
        for trx in block["transactions"]
        for op in trx["operations"]
        if is_new_post(op)
    ]


def status_env(nats_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "STEEM_"))}
    return {**env, "NATS_URL": nats_url}


def steem_status(nats_url: str, *args: str, cwd) -> subprocess.CompletedProcess:
    """`steem-status` run once against `nats_url`, in `cwd` (a folder without a .env)."""
    return subprocess.run(
        [BIN / "steem-status", *args],
        env=status_env(nats_url),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=20,
    )


def status_json(nats_url: str, cwd) -> dict:
    result = steem_status(nats_url, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# -- honcho ---------------------------------------------------------------------------


def start_honcho(spawn: Callable[..., Proc], tmp_path: Path, procfile: Path, env: dict) -> Proc:
    """`honcho start` with the given Procfile and an empty .env, in its own session."""
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    args = [BIN / "honcho", "--no-colour", "-f", procfile, "-e", env_file, "-d", tmp_path, "start"]
    return spawn(args, name="honcho", env=env, new_session=True)


def printed_urls(honcho: Proc) -> list[str]:
    return [m.group(1) for line in honcho.stdout.text().splitlines() if (m := URL_LINE.match(line))]
