"""What nats-local shows of nats-server's log: one line at start, then only what matters.

    log = ServerLog(logging.INFO, store_dir=".data/jetstream")
    for line in server_stderr:
        for shown in log.feed(line):
            print(shown, file=sys.stderr)

nats-server starts with a banner of some twenty `[INF]` lines (version, ids, a JetStream
logo, limits) that says nothing an operator needs on every restart. At INFO, nats-local
shows instead one line once the server is ready, built from the banner:

    nats: nats-server 2.15.1 ready on nats://127.0.0.1:4222, JetStream files in .data/jetstream

and then only the server's warnings and errors (`[WRN]`, `[ERR]`, `[FTL]`, a port already
in use among them) and any line it did not format itself (a Go panic). At WARNING the
start line is left out too, at ERROR the warnings as well. At DEBUG every line of the
server passes through unchanged, and the start line follows "Server is ready".
"""

import logging
import re

PROCESS = "nats"

# `[1234] 2026/12/03 17:52:16.434655 [INF] Server is ready`
_SERVER_LINE = re.compile(r"^\[\d+\] \S+ \S+ \[(?P<tag>[A-Z]{3})\](?: (?P<text>.*))?$")
_LEVELS = {
    "TRC": logging.DEBUG,
    "DBG": logging.DEBUG,
    "INF": logging.INFO,
    "WRN": logging.WARNING,
    "ERR": logging.ERROR,
    "FTL": logging.CRITICAL,
}
_VERSION = re.compile(r"^\s*Version:\s+(\S+)")
_LISTENING = re.compile(r"^Listening for client connections on (\S+)")
_READY = "Server is ready"


class ServerLog:
    """Reads nats-server's stderr line by line and says what to show of it."""

    def __init__(self, level: int, store_dir: str) -> None:
        self.level = level
        self.store_dir = store_dir
        self.version: str | None = None
        self.address: str | None = None
        self.ready = False

    def feed(self, line: str) -> list[str]:
        """The lines to show for this line of the server (none, itself, the start line)."""
        line = line.rstrip("\r\n")
        found = _SERVER_LINE.match(line)
        if found is None:  # not the server's logger: a panic, a usage error; never hidden
            return [line]
        severity = _LEVELS.get(found["tag"], logging.INFO)
        shown = [line] if self._shows(severity) else []
        if not self.ready:
            shown += self._learn(found["text"] or "")
        return shown

    def start_line(self) -> str:
        version = f"nats-server {self.version}" if self.version else "nats-server"
        address = f"nats://{self.address}" if self.address else "its port"
        return f"{PROCESS}: {version} ready on {address}, JetStream files in {self.store_dir}"

    def _shows(self, severity: int) -> bool:
        if self.level <= logging.DEBUG:
            return True
        # The server's INFO lines are the banner and routine events: never shown by default.
        return severity >= max(self.level, logging.WARNING)

    def _learn(self, text: str) -> list[str]:
        if version := _VERSION.match(text):
            self.version = version[1]
        elif listening := _LISTENING.match(text):
            self.address = listening[1]
        elif text == _READY:
            self.ready = True
            return [self.start_line()] if self.level <= logging.INFO else []
        return []
