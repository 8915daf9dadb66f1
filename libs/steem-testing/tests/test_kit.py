"""The kit's own parts with real processes: output read line by line or into a log file,
a stop that leaves nothing behind, and the oracle against what the broadcaster publishes."""

import signal
import sys

import pytest
from steem_testing.oracle import expected_messages, published_messages, stored
from steem_testing.processes import ProcessSet, run_command
from steem_testing.proctree import descendants, is_running
from steem_testing.waiting import wait_until

TALKER = (
    "import sys, time\n"
    "sys.stdout.buffer.write(b'one\\n\\xc3\\xa9t\\xc3\\xa9\\n'); sys.stdout.flush()\n"
    "print('to stderr', file=sys.stderr, flush=True)\n"
    "time.sleep(0.3)\n"  # a gap between two lines, to be seen in their stamps
    "sys.stdout.buffer.write(b'last, without a newline'); sys.exit(3)\n"
)


def test_lines_their_times_and_the_exact_bytes(procs):
    talker = procs([sys.executable, "-c", TALKER], name="talker")
    first = talker.stdout.wait_for_line(r"^one$")
    last = talker.stdout.wait_for_line(r"^last")
    assert (first.index, last.index) == (0, 2)
    assert last.at - first.at >= 0.25
    assert talker.wait(10) == 3
    assert talker.stdout.lines == ["one", "été", "last, without a newline"]
    assert bytes(talker.stdout.raw) == b"one\n\xc3\xa9t\xc3\xa9\nlast, without a newline"
    assert talker.stderr.text() == "to stderr"
    with pytest.raises(AssertionError, match="before the pipe closed"):
        talker.stdout.wait_for("never printed", timeout=30)  # at once: the pipe is closed


def test_a_log_file_takes_the_output_and_tail_reads_it(tmp_path):
    with ProcessSet(tmp_path) as spawn:
        logged = spawn([sys.executable, "-c", TALKER], log=tmp_path / "both.log")
        split = spawn([sys.executable, "-c", TALKER], log=tmp_path / "err.log", log_stdout=False)
        assert logged.wait(10) == 3 and split.wait(10) == 3
    assert logged.stdout is None and logged.stderr is None
    assert "to stderr" in logged.tail() and "été" in (tmp_path / "both.log").read_text()
    assert split.stdout.lines[-1] == "last, without a newline"
    assert split.tail() == "to stderr" == (tmp_path / "err.log").read_text().strip()


def test_stopping_a_session_leaves_nothing_of_its_group(procs):
    # The leader stops on SIGTERM; its child ignores SIGTERM and would outlive it.
    child = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    leader = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {child!r}])\n"
        "print('started', flush=True); time.sleep(60)\n"
    )
    proc = procs([sys.executable, "-c", leader], new_session=True)
    proc.stdout.wait_for("started")
    (orphan,) = descendants(proc.pid)
    assert proc.stop() == -signal.SIGTERM
    wait_until(lambda: not is_running(orphan), 5, "the leader's child to be gone")


def test_a_command_runs_with_the_clean_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("STEEM_NODES", "http://a-developers-node")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    code = (
        "import os; print(sorted(k for k in os.environ if k in ('STEEM_NODES', 'LOG_LEVEL', 'X')))"
    )
    done = run_command([sys.executable, "-c", code], {"X": "1"}, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "['X']"


def test_the_oracle_says_what_the_broadcaster_publishes(pipeline, read_stream):
    chain = pipeline()
    chain.wait_for_last_block()
    messages = read_stream(chain.nats.url)
    assert stored(messages) == expected_messages(chain.blocks)
    for (subject, data, headers), message in zip(
        published_messages(chain.blocks), messages, strict=True
    ):
        assert (message.subject, message.data) == (subject, data)
        assert {k: message.headers.get(k) for k in headers} == headers
