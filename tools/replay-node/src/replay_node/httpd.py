"""The HTTP side of the node: a threaded HTTP/1.1 server with keep-alive, JSON-RPC over
POST on any path, a few GET endpoints. What to answer is the node's business
(:meth:`ReplayNode.handle_post`, :meth:`ReplayNode.handle_get`); this module only moves
bytes, and lets the node close every client connection when it stops."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .node import ReplayNode

__all__ = ["HTTP_503", "HttpServer"]

# What nginx sends when its upstream is down: the body a client meets on a 503.
HTTP_503 = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
    b"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {200: b"OK", 404: b"Not Found", 405: b"Method Not Allowed", 503: b"Service Unavailable"}


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], node: ReplayNode):
        self.node = node
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "replay-node"
    server: HttpServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.node.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.node.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # no access log

    def _send(self, code: int, body: bytes, ctype: bytes = b"application/json") -> None:
        head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
            code,
            _REASONS.get(code, b"Error"),
            ctype,
            len(body),
        )
        if self.close_connection:
            head += b"Connection: close\r\n"
        try:
            self.wfile.write(head + b"\r\n" + body)
        except OSError:
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_POST(self) -> None:  # noqa: N802
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        code, payload, ctype = self.server.node.handle_post(body)
        if code == 0:  # an answer lost on purpose: the client sees the connection close
            self.close_connection = True
            return
        self._send(code, payload, ctype)

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0].rstrip("/")
        code, payload = self.server.node.handle_get(path)
        self._send(code, payload)
