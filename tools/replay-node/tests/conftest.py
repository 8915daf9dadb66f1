"""Fixtures of the replay-node tests: the node's own HTTP JSON-RPC client, the bundled
sample served in this process, and the node's command line.

Processes, waiting, ports and nodes started in the test's process (`in_process_node`)
come from the test kit (steem_testing), as for every test of the workspace.
"""

from __future__ import annotations

import http.client
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from replay_node.node import ReplayNode
from steem_testing.processes import Proc


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
def replay_cli(procs) -> Callable[..., Proc]:
    """replay_cli(*args): `python -m replay_node ...` started by the test kit (its output
    read line by line, stopped at the end of the test)."""
    return lambda *args: procs([sys.executable, "-m", "replay_node", *args], name="replay-node")


@pytest.fixture(scope="module")
def posts() -> list[tuple[str, str]]:
    """(author, permlink) of the sample's posts, newest first."""
    from replay_node.archive import comment_operations, load_archive

    made = [(c.author, c.permlink) for c in comment_operations(load_archive()) if c.kind == "post"]
    return made[::-1]


@pytest.fixture
def chain(in_process_node, client):
    """A node over the sample, everything visible, producing blocks after it; and its
    HTTP client."""
    node = in_process_node(irreversible_lag=2, keep_producing=True)
    return node, client(node.url)
