"""new-worker on a copy of the workspace's registration files: what it writes and refuses."""

import tomllib

import pytest
from new_worker.cli import main

ROOT_PYPROJECT = """[project]
name = "steem-bot"
dependencies = [
    "honcho>=2.0",
    "bot",
]

[tool.uv.workspace]
members = ["libs/*", "tools/*", "workers/*"]

[tool.uv.sources]
bot = { workspace = true }
"""


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(ROOT_PYPROJECT)
    (tmp_path / "Procfile").write_text("bot: exec restart-loop --name bot -- bot\n")
    (tmp_path / "Procfile.replay").write_text("bot: exec restart-loop --name bot -- bot")
    (tmp_path / "workers").mkdir()
    monkeypatch.chdir(tmp_path / "workers")  # anywhere inside the workspace will do
    return tmp_path


def test_a_worker_member_is_written_and_registered(workspace, capsys):
    main(["vote-counter"])
    member = workspace / "workers" / "vote-counter"
    files = sorted(str(p.relative_to(member)) for p in member.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/vote_counter/__init__.py",
        "src/vote_counter/cli.py",
        "tests/test_vote_counter.py",
        "tests/test_vote_counter_e2e.py",
    ]
    project = tomllib.loads((member / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"vote-counter": "vote_counter.cli:main"}
    root = tomllib.loads((workspace / "pyproject.toml").read_text())
    assert root["project"]["dependencies"] == ["honcho>=2.0", "bot", "vote-counter"]
    assert root["tool"]["uv"]["sources"]["vote-counter"] == {"workspace": True}
    assert (workspace / "Procfile").read_text().splitlines()[-1] == (
        "vote-counter: exec restart-loop --name vote-counter -- vote-counter"
    )
    assert (
        (workspace / "Procfile.replay")
        .read_text()
        .splitlines()[-1]
        .startswith('vote-counter: NATS_URL="nats://127.0.0.1:${REPLAY_NATS_PORT:-4223}" ')
    )
    assert "VOTE_COUNTER_MIN_WEIGHT" in (member / "src/vote_counter/cli.py").read_text()
    compile((member / "src/vote_counter/cli.py").read_text(), "cli.py", "exec")
    assert "next: uv run pytest workers/vote-counter" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["Bad", "two words", "bot", "9lives", "a_b", "x-", ""])
def test_a_bad_or_taken_name_is_one_line_exit_2_and_nothing_written(workspace, capsys, name):
    before = {p: p.read_text() for p in workspace.rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) as exited:
        main([name])
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("new-worker: ")
    assert {p: p.read_text() for p in workspace.rglob("*") if p.is_file()} == before
