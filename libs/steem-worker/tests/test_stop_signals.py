"""A worker process and the stop signals honcho's way: SIGTERM to the process group, and
the restart loop forwarding each signal, so copies reach the worker as it exits."""

import signal
import sys
import time

# A real console-script-like worker, its stop signals at their defaults as under honcho
# (a shell in the background would have left SIGINT ignored for pytest's children).
WORKER = """
import signal
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.signal(signal.SIGINT, signal.default_int_handler)
from steem_worker import Worker
worker = Worker("tester")
worker.on("comment")(lambda op, meta: None)
worker.run()
"""


def test_stop_signals_arriving_while_the_worker_exits_end_it_cleanly(procs, nats_server, tmp_path):
    """SIGTERM, then SIGINTs every few milliseconds until it has exited: some land after
    the event loop is closed. The worker still exits 0, without a traceback."""
    env = {"NATS_URL": nats_server.url, "WORKER_STATE_DIR": str(tmp_path / "state")}
    worker = procs([sys.executable, "-c", WORKER], name="tester", env=env)
    worker.stderr.wait_for_line("consuming steem.op.comment")
    worker.signal(signal.SIGTERM)
    while worker.alive:
        worker.signal(signal.SIGINT)
        time.sleep(0.002)  # deliberate: the copies keep coming until it has exited
    assert worker.wait() == 0, worker.tail()
    assert "Traceback" not in worker.stderr.text()
    assert "SIGTERM received; shutting down" in worker.stderr.text()
