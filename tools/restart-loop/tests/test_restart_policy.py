"""Unit tests of RestartPolicy (fake clock), the CLI parsing and the status hook."""

from __future__ import annotations

import sys

import pytest
from restart_loop.cli import parse_args
from restart_loop.policy import RestartPolicy
from restart_loop.supervisor import Supervisor, describe_exit, fmt_seconds
from steem_testing.processes import run_command


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run_for(policy: RestartPolicy, clock: FakeClock, seconds: float, code: int = 1):
    policy.started()
    clock.now += seconds
    return policy.exited(code)


def test_quick_crashes_double_the_delay_up_to_the_cap() -> None:
    clock = FakeClock()
    policy = RestartPolicy(delay=3, max_delay=20, healthy_after=30, clock=clock)
    delays = [run_for(policy, clock, 1).delay for _ in range(6)]
    assert delays == [3, 6, 12, 20, 20, 20]
    assert policy.restart_count == 5  # six starts
    assert policy.starts == 6


def test_healthy_run_resets_the_delay() -> None:
    clock = FakeClock()
    policy = RestartPolicy(delay=1, max_delay=60, healthy_after=30, clock=clock)
    assert [run_for(policy, clock, 2).delay for _ in range(3)] == [1, 2, 4]
    decision = run_for(policy, clock, 30)  # exactly healthy_after counts as healthy
    assert decision.delay == 1
    assert decision.runtime == 30
    assert run_for(policy, clock, 2).delay == 2
    assert run_for(policy, clock, 29.9).delay == 4  # just short of healthy: still doubling


def test_exit_code_zero_is_restarted_like_a_crash() -> None:
    clock = FakeClock()
    policy = RestartPolicy(delay=1, clock=clock)
    decision = run_for(policy, clock, 0.5, code=0)
    assert decision.restart and decision.delay == 1


def test_no_restart_codes() -> None:
    clock = FakeClock()
    policy = RestartPolicy(no_restart_codes={2, 78}, clock=clock)
    assert not run_for(policy, clock, 1, code=2).restart
    assert not run_for(policy, clock, 1, code=78).restart
    assert run_for(policy, clock, 1, code=3).restart
    assert run_for(policy, clock, 1, code=-9).restart  # killed by SIGKILL


def test_delay_larger_than_cap_is_capped() -> None:
    clock = FakeClock()
    policy = RestartPolicy(delay=10, max_delay=4, clock=clock)
    assert run_for(policy, clock, 0).delay == 4


def test_the_delays_are_the_projects_one_backoff_policy() -> None:
    from ipc_config.backoff import Backoff

    clock = FakeClock()
    policy = RestartPolicy(delay=0.5, max_delay=5, healthy_after=30, clock=clock)
    backoff = Backoff(start=0.5, cap=5)
    assert [run_for(policy, clock, 1).delay for _ in range(7)] == [backoff.next() for _ in range(7)]
    assert policy.next_delay == backoff.upcoming


def test_the_loop_does_not_load_the_settings_libraries(tmp_path) -> None:
    # One restart loop per Procfile line: pydantic and nats-py would cost each 0.5 s, 27 MB.
    code = (
        "import sys, restart_loop.cli\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'nats'}))"
    )
    out = run_command([sys.executable, "-c", code], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_policy_rejects_negative_values_and_misuse() -> None:
    with pytest.raises(ValueError):
        RestartPolicy(delay=-1)
    with pytest.raises(RuntimeError):
        RestartPolicy().exited(1)


def test_formatting() -> None:
    assert describe_exit(1) == "exited with code 1"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert fmt_seconds(12.0) == "12"
    assert fmt_seconds(0.2 * 2) == "0.4"
    assert fmt_seconds(4.5) == "4.5"


def test_cli_command_with_and_without_double_dash() -> None:
    args, command = parse_args(["--delay", "1", "--", "python", "-u", "x.py", "--delay", "2"], {})
    assert args.delay == 1.0
    assert command == ["python", "-u", "x.py", "--delay", "2"]
    args, command = parse_args(["--name", "bot", "python", "-m", "bot", "--", "--x"], {})
    assert args.name == "bot"
    assert command == ["python", "-m", "bot", "--", "--x"]


def test_cli_defaults_env_and_option_precedence() -> None:
    args, _ = parse_args(["true"], {})
    assert (args.delay, args.max_delay, args.healthy_after, args.stop_timeout) == (3, 60, 30, 4.5)
    assert args.no_restart_codes == {2}
    env = {
        "RESTART_DELAY": "0.5",
        "RESTART_MAX_DELAY": "9",
        "RESTART_HEALTHY_AFTER": "7",
        "RESTART_NO_RESTART_CODES": "2, 78",
        "RESTART_STOP_TIMEOUT": "1",
    }
    args, _ = parse_args(["true"], env)
    assert (args.delay, args.max_delay, args.healthy_after, args.stop_timeout) == (0.5, 9, 7, 1)
    assert args.no_restart_codes == {2, 78}
    args, _ = parse_args(["--delay", "2", "--no-restart-codes", "", "true"], env)
    assert args.delay == 2
    assert args.no_restart_codes == frozenset()


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        ([], {}),
        (["--"], {}),
        (["--delay", "-1", "true"], {}),
        (["--no-restart-codes", "x", "true"], {}),
        (["true"], {"RESTART_DELAY": "soon"}),
        (["true"], {"RESTART_NO_RESTART_CODES": "300"}),
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], env: dict[str, str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args(argv, env)
    assert info.value.code == 2


def test_status_hook_and_log_in_process(tmp_path) -> None:
    # Exits 1 on the first run, 2 (configuration error) on the second.
    runs = tmp_path / "runs"
    script = (
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(runs)!r})\n"
        "n = len(p.read_text().splitlines()) + 1 if p.exists() else 1\n"
        "p.write_text('x\\n' * n)\n"
        "sys.exit(1 if n == 1 else 2)\n"
    )
    statuses = []
    lines: list[str] = []
    supervisor = Supervisor(
        [sys.executable, "-c", script],
        name="demo",
        policy=RestartPolicy(delay=0, healthy_after=10),
        log=lines.append,
        on_status=statuses.append,
    )
    assert supervisor.run() == 2
    assert [s.state for s in statuses] == ["running", "waiting", "running", "exited"]
    assert [s.restart_count for s in statuses] == [0, 0, 1, 1]
    assert statuses[1].last_exit == 1 and statuses[1].next_delay == 0
    assert statuses[-1].last_exit == 2
    assert all(s.name == "demo" for s in statuses)
    assert all(line.startswith("restart-loop[demo]: ") for line in lines)
    assert (
        lines[-1]
        == "restart-loop[demo]: demo exited with code 2 (configuration error); not restarting"
    )
