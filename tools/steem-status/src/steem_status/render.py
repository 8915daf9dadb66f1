"""The table for people: one section per part of the system, plain text."""

from collections.abc import Sequence
from datetime import UTC, datetime

from ipc_config import STREAM_NAME

from steem_status.collect import (
    STALE_AFTER,
    AccountActions,
    BroadcasterStatus,
    ConsumerStatus,
    DeadLetters,
    ProcessStatus,
    StreamStatus,
    SystemStatus,
)

NO_BROADCASTER = "no broadcaster report: is the broadcaster running?"
NO_POSITION = "no position reported yet: the broadcaster runs but has not published a block"


def duration(seconds: float | None) -> str:
    """42 s, 17 min, 5 h, 3056 d."""
    if seconds is None:
        return "?"
    for unit, size, up_to in (("s", 1, 120), ("min", 60, 7200), ("h", 3600, 172800)):
        if seconds < up_to:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds // 86400)} d"


def size(count: int) -> str:
    """1234567 -> 1.2 MB."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _number(value: int | None) -> str:
    """A block number as people write them: 3286849, not 3,286,849."""
    return "?" if value is None else str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; the first and text columns left-aligned."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    numeric = [all(r[i].replace(",", "").isdigit() for r in rows) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        cells = [
            cell.rjust(width) if numeric[i] and i else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def stream_lines(stream: StreamStatus | None) -> list[str]:
    if stream is None:
        return [f"  no stream {STREAM_NAME}: nothing published yet (is the broadcaster running?)"]
    lines = [
        f"  messages    {stream.messages:,} ({size(stream.bytes)}), "
        f"sequence {stream.first_seq:,}..{stream.last_seq:,}"
    ]
    if stream.last_block is None:
        lines.append("  blocks      none closed yet")
        return lines
    lines.append(f"  blocks      {_number(stream.first_block)}..{_number(stream.last_block)}")
    when = f" of {stream.last_block_time} UTC" if stream.last_block_time else ""
    age = f", {duration(stream.last_block_age)} ago" if stream.last_block_age is not None else ""
    lines.append(f"  last block  {_number(stream.last_block)}{when}{age}")
    return lines


def broadcaster_lines(
    broadcaster: BroadcasterStatus | None, processes: list[ProcessStatus]
) -> list[str]:
    if broadcaster is None:
        if any(p.process == "broadcaster" and p.state == "running" and not p.stale
               for p in processes):  # fmt: skip
            return [f"  {NO_POSITION}"]
        return [f"  {NO_BROADCASTER}"]
    mode = f" ({broadcaster.mode} mode)" if broadcaster.mode else ""
    reported = f"  reported    {duration(broadcaster.report_age)} ago"
    if broadcaster.stale:
        reported += f"  STALE (no report for over {duration(STALE_AFTER)}: is it running?)"
    return [
        f"  block       {_number(broadcaster.block_num)}{mode}",
        f"  chain       head {_number(broadcaster.head)}, "
        f"irreversible {_number(broadcaster.irreversible)}, "
        f"{_number(broadcaster.behind)} blocks behind",
        reported,
    ]


def consumer_lines(consumers: list[ConsumerStatus]) -> list[str]:
    if not consumers:
        return ["  no durable consumers (is any worker running?)"]
    header = ("NAME", "PENDING", "ACK PENDING", "REDELIVERED", "SUBJECTS")
    rows = [
        (c.name, f"{c.pending:,}", f"{c.ack_pending:,}", f"{c.redelivered:,}",
         ", ".join(c.filter_subjects) or "all")
        for c in consumers
    ]  # fmt: skip
    return table(header, rows)


def process_lines(processes: list[ProcessStatus], bucket: bool) -> list[str]:
    if not bucket:
        return ["  no status reports: no process has reported yet (is anything running?)"]
    if not processes:
        return ["  no process reports (is anything running?)"]
    header = ("INSTANCE", "STATE", "PID", "HOST", "RESTARTS", "UPTIME", "REPORTED", "")
    rows = [
        (p.instance, p.state or "?", str(p.pid or "?"), p.host or "?",
         str(p.restarts if p.restarts is not None else "?"), duration(p.uptime),
         f"{duration(p.report_age)} ago", "STALE" if p.stale else "")
        for p in processes
    ]  # fmt: skip
    return table(header, rows)


def missed_lines(processes: list[ProcessStatus]) -> list[str]:
    """A worker that missed messages, loudly: it cannot get them back."""
    lines = []
    for p in processes:
        if p.missed:
            lines.append(
                f"  {p.instance} MISSED {p.missed.get('messages', '?')} stream messages "
                f"(sequences {p.missed.get('from_seq', '?')}..{p.missed.get('to_seq', '?')}): "
                "the stream removed them before it read them"
            )
    return lines


def dead_letter_lines(dead: list[DeadLetters]) -> list[str]:
    if not dead:
        return ["  none"]
    rows = [(d.worker, f"{d.count:,}", f"steem-dead replay {d.worker}") for d in dead]
    return table(("WORKER", "MESSAGES", "TO HAND THEM BACK"), rows)


def action_lines(actions: list[AccountActions], reported_by: str | None) -> list[str]:
    if reported_by is None:
        return ["  no signer report (the signer runs with STEEM_KEYS, or nothing was asked)"]
    if not actions:
        return [f"  none asked yet ({reported_by})"]
    rows = [(a.account, f"{a.pending:,}", f"{a.included:,}", f"{a.failed:,}") for a in actions]
    return table(("ACCOUNT", "PENDING", "INCLUDED", "FAILED"), rows) + [
        f"  as {reported_by} reported"
    ]


def render(status: SystemStatus) -> str:
    when = datetime.fromtimestamp(status.generated_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    sections = [
        [f"steem-status: NATS at {status.nats_url}, {when}"],
        [f"stream {STREAM_NAME}", *stream_lines(status.stream)],
        ["broadcaster", *broadcaster_lines(status.broadcaster, status.processes)],
        [f"consumers of {STREAM_NAME}", *consumer_lines(status.consumers)],
        ["processes", *process_lines(status.processes, status.status_bucket),
         *missed_lines(status.processes)],
        ["dead letters", *dead_letter_lines(status.dead_letters)],
        ["actions (signer)", *action_lines(status.actions, status.actions_from)],
    ]  # fmt: skip
    return "\n\n".join("\n".join(section) for section in sections)
