"""The processes below a test's own, read from /proc: who runs under a restart loop or
honcho, whether a pid still runs, and what a process costs.

    pid = worker_pid(honcho.pid, "bot", "bot")      # the bot, not its restart loop
    tree = descendants(honcho.pid); ...; assert not still_running(tree)
    rss_mb(pid), rss_mb(pid, peak=True), cpu_seconds(pid)
"""

import os
import signal
from pathlib import Path

from steem_testing.paths import BIN


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _argv(entry: Path) -> list[str]:
    return [a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0") if a]


def _proc_table() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, argv) of every process we can see."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        try:
            argv = _argv(entry)
        except OSError:
            continue
        if fields is not None:
            table[int(entry.name)] = (int(fields[1]), argv)
    return table


def descendants(root: int) -> dict[int, list[str]]:
    """Every process below `root`, with its argv."""
    table = _proc_table()
    found: dict[int, list[str]] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, argv) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = argv
                frontier.append(pid)
    return found


def console_script_pids(root: int, script: str, bin_dir: Path = BIN) -> list[int]:
    """Pids below `root` running our console script `script` itself (not its restart loop)."""
    return [
        pid
        for pid, argv in descendants(root).items()
        if len(argv) >= 2 and Path(argv[1]).name == script and Path(argv[1]).parent == bin_dir
    ]


def parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[1])


def child_pid(parent: int, program: str) -> int | None:
    """Pid of the direct child of `parent` running `program` (a console script or binary)."""
    for pid, argv in descendants(parent).items():
        names = [Path(a).name for a in argv[:2]]
        if program in names and parent_of(pid) == parent:
            return pid
    return None


def loop_pid(root: int, name: str) -> int | None:
    """Pid of `restart-loop --name <name>` below `root`."""
    for pid, argv in descendants(root).items():
        if (
            len(argv) >= 4
            and Path(argv[1]).name == "restart-loop"
            and argv[2:4] == ["--name", name]
        ):
            return pid
    return None


def worker_pid(root: int, name: str, program: str) -> int | None:
    """Pid of the program run by `restart-loop --name <name>` below `root` (not the loop)."""
    loop = loop_pid(root, name)
    return None if loop is None else child_pid(loop, program)


def is_running(pid: int) -> bool:
    """The process exists and is not a zombie (an exit its parent has not reaped)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def still_running(processes: dict[int, list[str]]) -> dict[int, list[str]]:
    """Those of `processes` (pid -> argv, from `descendants`) that still run (zombies and
    reused pids aside)."""
    running = {}
    for pid, argv in processes.items():
        try:
            now = _argv(Path(f"/proc/{pid}"))
        except OSError:
            continue
        if is_running(pid) and now == argv:
            running[pid] = argv
    return running


def sigkill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def rss_mb(pid: int, peak: bool = False) -> float | None:
    """Resident memory of a process in MB (its peak so far with `peak`); None if gone."""
    field_name = "VmHWM:" if peak else "VmRSS:"
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
