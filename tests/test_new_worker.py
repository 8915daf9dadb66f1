"""`uv run new-worker NAME` in a copy of this workspace: the new member's tests pass at
once, and `honcho start` runs it with the rest (offline, against the replay node)."""

import signal
import subprocess

import pytest
from steem_testing.paths import ROOT
from steem_testing.processes import run_command
from steem_testing.servers import free_port


def copy_workspace(target):
    """The checkout as git sees it (tracked and new files, nothing ignored), without .venv."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.split(b"\0")  # fmt: skip
    for name in filter(None, files):
        source, copy = ROOT / name.decode(), target / name.decode()
        if source.is_file():
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(source.read_bytes())
    return target


def uv(*args: str, cwd, timeout: float = 240) -> subprocess.CompletedProcess:
    return run_command(["uv", *args], cwd=cwd, timeout=timeout)


@pytest.mark.slow
def test_a_scaffolded_worker_passes_its_tests_at_once_and_runs_under_honcho(tmp_path, procs):
    workspace = copy_workspace(tmp_path / "workspace")
    made = uv("run", "new-worker", "vote-counter", cwd=workspace)
    assert made.returncode == 0, made.stderr
    tested = uv(
        "run", "pytest", "-q", "-p", "no:cacheprovider", "workers/vote-counter", cwd=workspace
    )
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
    assert "2 passed" in tested.stdout

    ports = {"REPLAY_PORT": str(free_port()), "REPLAY_NATS_PORT": str(free_port())}
    honcho = procs(
        ["uv", "run", "honcho", "-f", "Procfile.replay", "start"],
        cwd=workspace, env=ports, new_session=True,
    )  # fmt: skip
    honcho.stdout.wait_for(r"vote-counter\.1\s+\| \S+ voted \S+% on @", timeout=120)
    honcho.signal(signal.SIGTERM)
    honcho.popen.wait(15)
    honcho.stdout.wait_for(r"system\s+\| vote-counter\.1 stopped \(rc=0\)", timeout=1)
