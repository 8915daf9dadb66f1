"""Fixtures for the replay-node tests: real servers on free loopback ports, always stopped."""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from replay_node.node import ReplayNode

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "mainnet"


class Http:
    """Minimal HTTP/JSON-RPC client over one keep-alive connection per call site."""

    def __init__(self, url: str, timeout: float = 10.0):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def close(self) -> None:
        self.conn.close()

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
        except (ConnectionError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
        return resp.status, resp.read()

    def post(self, payload: Any, path: str = "/") -> tuple[int, bytes]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.request("POST", path, body)

    def call(self, method: str, params: Any = None, id: Any = 1) -> dict[str, Any]:  # noqa: A002
        req = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            req["params"] = params
        status, body = self.post(req)
        assert status == 200, body
        return json.loads(body)

    def result(self, method: str, params: Any = None) -> Any:
        reply = self.call(method, params)
        assert "error" not in reply, reply
        return reply["result"]

    def status(self) -> dict[str, Any]:
        code, body = self.request("GET", "/status")
        assert code == 200
        return json.loads(body)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


@pytest.fixture
def wait() -> Callable[..., Any]:
    """wait(predicate, timeout, what): poll with a deadline instead of sleeping blindly."""
    return wait_until


@pytest.fixture
def fixtures_dir() -> Path:
    assert FIXTURES.is_dir(), FIXTURES
    return FIXTURES


@pytest.fixture(scope="module")
def sample_node() -> Iterator[ReplayNode]:
    """The bundled sample, everything visible and irreversible (pace 0)."""
    node = ReplayNode(pace=0).start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def client() -> Iterator[Callable[[str], Http]]:
    """client(url) -> Http; all closed at the end of the test."""
    made: list[Http] = []

    def make(url: str) -> Http:
        made.append(Http(url))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture
def make_node() -> Iterator[Callable[..., ReplayNode]]:
    """make_node(**ReplayNode options) -> started node; all stopped at the end of the test."""
    nodes: list[ReplayNode] = []

    def make(*args: Any, **kwargs: Any) -> ReplayNode:
        kwargs.setdefault("pace", 0)
        nodes.append(ReplayNode(*args, **kwargs).start())
        return nodes[-1]

    yield make
    for n in nodes:
        n.stop()


class Proc:
    """A replay-node subprocess with its stderr lines collected by a thread."""

    def __init__(self, args: list[str]):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "replay_node", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for raw in self.popen.stderr:
            self.lines.put(raw.decode(errors="replace").rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.seen:
                m = re.search(pattern, line)
                if m:
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no stderr line matching {pattern!r}: {self.seen}")
            try:
                self.seen.append(self.lines.get(timeout=min(left, 0.2)))
            except queue.Empty:
                if self.popen.poll() is not None and self.lines.empty():
                    raise AssertionError(
                        f"exited {self.popen.returncode} before {pattern!r}: {self.seen}"
                    ) from None

    def stderr_lines(self) -> list[str]:
        self._reader.join(timeout=5)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.seen

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(5)


@pytest.fixture
def spawn() -> Iterator[Callable[..., Proc]]:
    """spawn(*cli args) -> Proc running `python -m replay_node ...`; killed at the end."""
    procs: list[Proc] = []

    def start(*args: Any) -> Proc:
        procs.append(Proc([str(a) for a in args]))
        return procs[-1]

    yield start
    for p in procs:
        p.stop()


@pytest.fixture(scope="module")
def posts() -> list[tuple[str, str]]:
    """(author, permlink) of the sample's posts, newest first."""
    from replay_node.archive import comment_operations, load_archive

    made = [(c.author, c.permlink) for c in comment_operations(load_archive()) if c.kind == "post"]
    return made[::-1]


@pytest.fixture
def chain(make_node, client):
    """A node over the sample, everything visible, producing blocks after it; and its
    HTTP client."""
    node = make_node(irreversible_lag=2, keep_producing=True)
    return node, client(node.url)
