"""ServerLog on nats-server 2.15's own lines: what each log level shows of them."""

import logging

import pytest
from nats_local.server_log import ServerLog

STORE = ".data/jetstream"
BANNER = """\
[14712] 2026/12/03 17:52:16.434655 [INF] Starting nats-server
[14712] 2026/12/03 17:52:16.434704 [INF]   Version:  2.15.1
[14712] 2026/12/03 17:52:16.434707 [INF]   Git:      [b2fd3ef]
[14712] 2026/12/03 17:52:16.434709 [INF]   Name:     steem-local
[14712] 2026/12/03 17:52:16.434928 [INF] Starting JetStream
[14712] 2026/12/03 17:52:16.435296 [INF]     _ ___ _____ ___ _____ ___ ___   _   __  __
[14712] 2026/12/03 17:52:16.435304 [INF]
[14712] 2026/12/03 17:52:16.435308 [INF] ---------------- JETSTREAM ----------------
[14712] 2026/12/03 17:52:16.435315 [INF]   Store Directory: "/tmp/nt/store/jetstream"
[14712] 2026/12/03 17:52:16.435319 [INF] -------------------------------------------
[14712] 2026/12/03 17:52:16.436336 [INF] Took 1.40503ms to start JetStream
[14712] 2026/12/03 17:52:16.436897 [INF] Listening for client connections on 127.0.0.1:14777
[14712] 2026/12/03 17:52:16.436914 [INF] Server is ready
"""
START_LINE = (
    "nats: nats-server 2.15.1 ready on nats://127.0.0.1:14777, JetStream files in .data/jetstream"
)
LATER = """\
[14712] 2026/12/03 17:52:17.102030 [WRN] 127.0.0.1:50312 - cid:5 - Readloop processing time: 2.1s
[14712] 2026/12/03 17:52:19.445208 [INF] Trapped "terminated" signal
[14712] 2026/12/03 17:52:19.445327 [ERR] JetStream failed to flush: disk full
[14712] 2026/12/03 17:52:19.445426 [INF] Server Exiting..
"""
WARNING, ERROR = LATER.splitlines()[0], LATER.splitlines()[2]


def shown(level: int, text: str) -> list[str]:
    log = ServerLog(level, STORE)
    return [out for line in text.splitlines(keepends=True) for out in log.feed(line)]


def test_info_shows_one_start_line_then_warnings_and_errors_only() -> None:
    assert shown(logging.INFO, BANNER + LATER) == [START_LINE, WARNING, ERROR]


def test_debug_shows_every_line_and_the_start_line_after_ready() -> None:
    lines = (BANNER + LATER).splitlines()
    ready = lines.index(BANNER.splitlines()[-1])
    assert shown(logging.DEBUG, BANNER + LATER) == [
        *lines[: ready + 1],
        START_LINE,
        *lines[ready + 1 :],
    ]


@pytest.mark.parametrize(
    ("level", "expected"),
    [(logging.WARNING, [WARNING, ERROR]), (logging.ERROR, [ERROR])],
)
def test_quieter_levels_leave_out_the_start_line_and_then_warnings(level, expected) -> None:
    assert shown(level, BANNER + LATER) == expected


def test_a_fatal_error_before_ready_is_shown_and_no_start_line() -> None:
    fatal = (
        "[15187] 2026/12/03 17:52:24.527672 [FTL] Error listening on port: 127.0.0.1:14778, "
        '"listen tcp 127.0.0.1:14778: bind: address already in use"'
    )
    banner_without_ready = BANNER.rsplit("\n", 3)[0] + "\n"
    assert shown(logging.INFO, banner_without_ready + fatal + "\n") == [fatal]


def test_lines_the_server_did_not_log_are_never_hidden() -> None:
    panic = "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:"
    assert shown(logging.ERROR, panic) == panic.splitlines()


def test_the_start_line_says_what_it_could_not_learn() -> None:
    log = ServerLog(logging.INFO, STORE)
    assert log.feed("[1] 2026/12/03 17:52:16.436914 [INF] Server is ready\n") == [
        "nats: nats-server ready on its port, JetStream files in .data/jetstream"
    ]
    assert log.ready
