"""Crash loops: a worker that dies at once on every start, under honcho with the real app.

Its restart loop waits longer after each quick crash (doubling, capped), logs the restart
count, and forgets the crashes once a run lasts long enough; meanwhile the rest of the app
runs on, and SIGTERM to honcho still stops everything within 10 s.
"""

import re
import signal
import sys
import time

from steem_testing.honcho import app_env, start_honcho
from steem_testing.paths import ROOT
from steem_testing.proctree import descendants, still_running
from steem_testing.waiting import wait_until

DELAY, MAX_DELAY, HEALTHY_AFTER, HEALTHY_RUN = 0.2, 0.8, 1.5, 2.0

CRASHER = f"""\
import pathlib, sys, time
print(f"crasher: start at {{time.monotonic():.3f}}", flush=True)
healthy = pathlib.Path("healthy")
if healthy.exists():  # one healthy run, longer than --healthy-after, then broken again
    healthy.unlink()
    time.sleep({HEALTHY_RUN})
    sys.exit(1)
sys.exit(3)  # the broken worker: exits at once on every start
"""
EXITED = re.compile(
    r"restart-loop\[crasher\]: crasher exited with code (\d+) after ([\d.]+) s "
    r"\(restart (\d+), next in ([\d.]+) s\)"
)
START = re.compile(r"crasher\.1\s+\| crasher: start at ([\d.]+)")


def crasher_exits(honcho) -> list[tuple[int, float, int, float]]:
    """(exit code, run time, restart count, announced delay) of each crash, in order."""
    return [
        (int(m[1]), float(m[2]), int(m[3]), float(m[4]))
        for m in EXITED.finditer(honcho.stdout.text())
    ]


def crasher_starts(honcho) -> list[float]:
    return [float(m[1]) for m in START.finditer(honcho.stdout.text())]


def test_a_crash_looping_worker_backs_off_resets_when_healthy_and_honcho_still_stops(
    tmp_path, procs, replay_node
):
    (tmp_path / "crasher.py").write_text(CRASHER)
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        (ROOT / "Procfile").read_text()
        + f"crasher: exec restart-loop --name crasher --delay {DELAY} --max-delay {MAX_DELAY} "
        f"--healthy-after {HEALTHY_AFTER} -- {sys.executable} crasher.py\n"
    )
    node = replay_node(None, "--pace", "0.2", "--start-blocks", "20", "--irreversible-lag", "2")
    honcho = start_honcho(procs, tmp_path, procfile, app_env(tmp_path, node.url, 3286700))

    # Quick crashes: the delay doubles from DELAY up to MAX_DELAY, and each is counted.
    wait_until(lambda: len(crasher_exits(honcho)) >= 6, 30, "six quick crashes")
    quick = crasher_exits(honcho)[:6]
    assert [code for code, *_ in quick] == [3] * 6
    assert [count for _, _, count, _ in quick] == [1, 2, 3, 4, 5, 6], "the restart count is logged"
    assert [delay for *_, delay in quick] == [0.2, 0.4, 0.8, 0.8, 0.8, 0.8], (
        "the delay must double after each quick crash and stop at --max-delay"
    )
    for n in range(1, 6):
        honcho.stdout.wait_for(
            rf"restart-loop\[crasher\]: restarted crasher \(pid \d+, restart {n}\)", 1
        )
    starts = crasher_starts(honcho)
    gaps = [b - a for a, b in zip(starts[:6], starts[1:7], strict=False)]
    for gap, (*_, delay) in zip(gaps, quick, strict=False):
        assert delay <= gap < delay + 1.0, f"waited {gap:.2f} s where {delay} s was announced"

    # A healthy run resets the delay; the next quick crash starts doubling from DELAY again.
    (tmp_path / "healthy").write_text("")
    wait_until(
        lambda: any(code == 1 for code, *_ in crasher_exits(honcho)), 15, "a healthy run to end"
    )
    healthy_index = next(i for i, (code, *_) in enumerate(crasher_exits(honcho)) if code == 1)
    wait_until(lambda: len(crasher_exits(honcho)) > healthy_index + 1, 15, "a crash after it")
    _, runtime, _, delay_after_healthy = crasher_exits(honcho)[healthy_index]
    _, _, _, delay_after_next = crasher_exits(honcho)[healthy_index + 1]
    assert runtime >= HEALTHY_AFTER
    assert (delay_after_healthy, delay_after_next) == (DELAY, 2 * DELAY), (
        "after a run longer than --healthy-after the delay starts again from --delay"
    )

    # The app ran all along: the crash loop of one line does not stop the others.
    assert re.search(r"bot\.1\s+\| https://steemit\.com/", honcho.stdout.text()), (
        "the bot printed no post while the crasher looped"
    )
    for name in ("nats", "broadcaster", "bot"):
        assert f"restart-loop[{name}]: {name} exited" not in honcho.stdout.text()

    # SIGTERM to honcho, right after a crash (the crasher is in its restart delay).
    count = len(crasher_exits(honcho))
    wait_until(lambda: len(crasher_exits(honcho)) > count, 15, "the next crash")
    tree = descendants(honcho.popen.pid)
    started = time.monotonic()
    honcho.popen.send_signal(signal.SIGTERM)
    code = honcho.popen.wait(10)
    wait_until(
        lambda: not still_running(tree),
        max(0.1, 10 - (time.monotonic() - started)),
        "every process to stop",
    )
    took = time.monotonic() - started
    assert took < 10, f"honcho and its processes took {took:.1f} s to stop"
    assert code == 143, f"honcho exited {code}"
    for name in ("nats", "broadcaster", "bot", "crasher"):
        honcho.stdout.wait_for(rf"system\s+\| {name}\.1 stopped \(rc=0\)", timeout=1)
