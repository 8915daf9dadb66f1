"""`new-worker NAME`: a new worker member, ready to run and tested.

    uv run new-worker downvotes

writes `workers/downvotes` (src layout, console script `downvotes`, a settings class, a
handler, a unit test on the in-memory harness and an end-to-end test on the test kit),
adds it to the root project and adds its line to `Procfile` and `Procfile.replay`. Its
tests pass at once (`uv run pytest workers/downvotes`) and `uv run honcho start` runs it.
A bad name or an existing member: one line, exit 2, nothing written.
"""

import argparse
import re
import sys
import tomllib
from importlib import resources
from pathlib import Path

EXIT_BAD_INPUT = 2
NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
RESERVED = {"nats", "replay", "broadcaster", "bot", "transfers", "signer", "upvoter"}
FILES = {  # template -> where it goes in the member
    "pyproject.toml.tpl": "pyproject.toml",
    "README.md.tpl": "README.md",
    "__init__.py.tpl": "src/{package}/__init__.py",
    "cli.py.tpl": "src/{package}/cli.py",
    "test_unit.py.tpl": "tests/test_{package}.py",
    "test_e2e.py.tpl": "tests/test_{package}_e2e.py",
}


class BadInput(Exception):
    """What the user asked for cannot be made; the message says why."""


def workspace_root(start: Path) -> Path:
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            uv = tomllib.loads(pyproject.read_text()).get("tool", {}).get("uv", {})
            if "workspace" in uv:
                return folder
    raise BadInput(f"no uv workspace around {start}: run new-worker inside the steem-bot checkout")


def check_name(name: str, root: Path) -> None:
    if not NAME.match(name):
        raise BadInput(
            f"{name!r} is not a worker name: lowercase letters and digits, words joined by '-'"
        )
    if name in RESERVED or (root / "workers" / name).exists():
        raise BadInput(f"a worker named {name!r} exists already")


def scaffold(name: str, root: Path) -> list[Path]:
    """Write the member and register it; returns the files written or changed."""
    check_name(name, root)
    values = {
        "name": name,
        "package": name.replace("-", "_"),
        "prefix": name.replace("-", "_").upper(),
    }
    member = root / "workers" / name
    written = []
    templates = resources.files("new_worker") / "template"
    for template, target in FILES.items():
        path = member / target.format(**values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((templates / template).read_text().format(**values))
        written.append(path)
    written.append(add_to_root_project(root / "pyproject.toml", name))
    written.append(
        add_line(root / "Procfile", f"{name}: exec restart-loop --name {name} -- {name}")
    )
    written.append(
        add_line(
            root / "Procfile.replay",
            f'{name}: NATS_URL="nats://127.0.0.1:${{REPLAY_NATS_PORT:-4223}}" '
            f"WORKER_STATE_DIR=.data/replay-workers exec restart-loop --name {name} -- {name}",
        )
    )
    return written


def add_to_root_project(pyproject: Path, name: str) -> Path:
    """`name` among the root project's dependencies, from the workspace."""
    text = pyproject.read_text()
    dependencies = re.search(r"(?ms)^\[project\].*?^dependencies = \[\n(.*?)^\]", text)
    sources = re.search(r"(?m)^\[tool\.uv\.sources\]\n", text)
    if dependencies is None or sources is None:
        raise BadInput(f"{pyproject} has no [project] dependencies list or [tool.uv.sources]")
    text = (
        text[: dependencies.end(1)]
        + f'    "{name}",\n'
        + text[dependencies.end(1) : sources.end()]
        + f"{name} = {{ workspace = true }}\n"
        + text[sources.end() :]
    )
    tomllib.loads(text)  # still valid TOML, or we stop before writing
    pyproject.write_text(text)
    return pyproject


def add_line(procfile: Path, line: str) -> Path:
    text = procfile.read_text() if procfile.exists() else ""
    procfile.write_text(text + ("" if text.endswith("\n") or not text else "\n") + line + "\n")
    return procfile


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="new-worker", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the worker's name: its member, script and consumer")
    args = parser.parse_args(argv)
    try:
        root = workspace_root(Path.cwd())
        written = scaffold(args.name, root)
    except BadInput as err:
        print(f"new-worker: {err}", file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_INPUT)
    for path in written:
        print(f"wrote {path.relative_to(root)}")
    print(f"next: uv run pytest workers/{args.name}   then: uv run honcho start")
