"""Reading the state of the running system from NATS, as one `SystemStatus`.

Everything comes from JetStream: the stream STEEM (its state, its first and last
`steem.block` messages, its durable consumers) and the status bucket, where the
broadcaster writes its chain position and every process its own report.
"""

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ipc_config import (
    BLOCK_SUBJECT,
    BROADCASTER_STATUS_KEY,
    DEAD_STREAM_NAME,
    DEAD_SUBJECT_PREFIX,
    PROCESS_STATUS_PREFIX,
    STATUS_BUCKET,
    STATUS_INTERVAL,
    STREAM_NAME,
)
from nats.js import JetStreamContext
from nats.js.api import StreamInfo
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NoKeysError, NotFoundError

SCHEMA_VERSION = 1
STALE_AFTER = 3 * STATUS_INTERVAL  # seconds without a report before it counts as stale


@dataclass(frozen=True)
class StreamStatus:
    name: str
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    first_block: int | None  # from the first `steem.block` message; None before the first
    last_block: int | None  # from the last `steem.block` message
    last_block_time: str | None  # the chain's timestamp of the last block (UTC)
    last_block_age: float | None  # seconds since that timestamp


@dataclass(frozen=True)
class BroadcasterStatus:
    mode: str | None  # irreversible or head
    block_num: int | None  # the last block it published
    head: int | None
    irreversible: int | None
    behind: int | None  # blocks between it and its target (irreversible or head, by mode)
    updated_at: float | None
    report_age: float | None
    stale: bool


@dataclass(frozen=True)
class ConsumerStatus:
    name: str
    filter_subjects: list[str]
    pending: int  # messages of the stream it has not been given yet (num_pending)
    ack_pending: int  # given to a worker, not acknowledged yet
    redelivered: int  # given more than once, not acknowledged yet
    waiting: int  # pull requests waiting for messages


@dataclass(frozen=True)
class ProcessStatus:
    key: str
    process: str | None
    instance: str  # `bot.1` under honcho; from the key if the report has none
    state: str | None  # starting, running, standby (a broadcaster waiting), or stopped
    pid: int | None
    host: str | None
    restarts: int | None  # restarts by its restart loop
    started_at: float | None
    uptime: float | None  # seconds since its start (at its last report, if stopped or stale)
    updated_at: float | None
    report_age: float | None
    stale: bool
    # Messages the stream removed before this worker read them: {"messages", "from_seq",
    # "to_seq", "at"}; None when it missed nothing (see steem_worker.retention).
    missed: dict[str, Any] | None = None


@dataclass(frozen=True)
class DeadLetters:
    worker: str
    count: int  # kept on steem.dead.<worker>, waiting for `steem-dead replay <worker>`


@dataclass(frozen=True)
class AccountActions:
    """The signer's requests for one account: pending (not yet in a block nor failed),
    included, and failed (refused for good)."""

    account: str
    pending: int
    included: int
    failed: int


@dataclass(frozen=True)
class SystemStatus:
    nats_url: str
    generated_at: float
    stream: StreamStatus | None  # None: the stream does not exist
    broadcaster: BroadcasterStatus | None  # None: no report from the broadcaster
    consumers: list[ConsumerStatus] = field(default_factory=list)
    processes: list[ProcessStatus] = field(default_factory=list)
    status_bucket: bool = True  # False: no process has ever reported
    dead_letters: list[DeadLetters] = field(default_factory=list)
    actions: list[AccountActions] = field(default_factory=list)  # from the signer's report
    actions_from: str | None = None  # the signer instance that reported them; None: none

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, **asdict(self)}


def chain_time(timestamp: str) -> float:
    """`2016-07-17T23:20:54` (UTC, as the chain writes it) -> unix time."""
    return datetime.fromisoformat(timestamp).replace(tzinfo=UTC).timestamp()


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _age(updated_at: float | None, now: float) -> float | None:
    return None if updated_at is None else round(max(0.0, now - updated_at), 3)


def _is_stale(age: float | None) -> bool:
    return age is None or age > STALE_AFTER


def broadcaster_status(report: dict[str, Any], now: float) -> BroadcasterStatus:
    updated_at = _float(report.get("updated_at"))
    age = _age(updated_at, now)
    return BroadcasterStatus(
        mode=_str(report.get("mode")),
        block_num=_int(report.get("block_num")),
        head=_int(report.get("head")),
        irreversible=_int(report.get("irreversible")),
        behind=_int(report.get("behind")),
        updated_at=updated_at,
        report_age=age,
        stale=_is_stale(age),
    )


def process_status(key: str, report: dict[str, Any], now: float) -> ProcessStatus:
    updated_at = _float(report.get("updated_at"))
    age = _age(updated_at, now)
    state, started_at = _str(report.get("state")), _float(report.get("started_at"))
    uptime = _float(report.get("uptime"))
    if state not in (None, "stopped") and not _is_stale(age) and started_at is not None:
        uptime = now - started_at  # live; otherwise as of its last report
    return ProcessStatus(
        key=key,
        process=_str(report.get("process")),
        instance=_str(report.get("instance")) or key.removeprefix(PROCESS_STATUS_PREFIX),
        state=state,
        pid=_int(report.get("pid")),
        host=_str(report.get("host")),
        restarts=_int(report.get("restarts")),
        started_at=started_at,
        uptime=None if uptime is None else round(uptime, 3),
        updated_at=updated_at,
        report_age=age,
        stale=_is_stale(age),
        missed=report["missed"] if isinstance(report.get("missed"), dict) else None,
    )


def signer_actions(
    reports: dict[str, dict[str, Any]], now: float
) -> tuple[list[AccountActions], str | None]:
    """Per-account counts from the freshest signer report that has them. Every signer
    counts the same store, so several signers report the same counts: one is shown."""
    best: tuple[float, str, dict[str, Any]] | None = None
    for key, report in reports.items():
        actions = report.get("actions")
        accounts = actions.get("accounts") if isinstance(actions, dict) else None
        updated = _float(report.get("updated_at"))
        mine = key.startswith(PROCESS_STATUS_PREFIX) and isinstance(accounts, dict) and updated
        if mine and (best is None or updated > best[0]):
            instance = _str(report.get("instance")) or key.removeprefix(PROCESS_STATUS_PREFIX)
            best = (updated, instance, accounts)
    if best is None:
        return [], None
    actions = [
        AccountActions(
            account=str(account),
            pending=_int(counts.get("pending")) or 0,
            included=_int(counts.get("included")) or 0,
            failed=_int(counts.get("failed")) or 0,
        )
        for account, counts in sorted(best[2].items())
        if isinstance(counts, dict)
    ]
    return actions, best[1]


async def _block_message(
    js: JetStreamContext, info: StreamInfo, *, first: bool
) -> dict[str, Any] | None:
    """The payload of the first or last `steem.block` message; None if there is none."""
    try:
        if first:
            msg = await js.get_msg(STREAM_NAME, seq=info.state.first_seq or 1,
                                   subject=BLOCK_SUBJECT, next=True)  # fmt: skip
        else:
            msg = await js.get_last_msg(STREAM_NAME, BLOCK_SUBJECT)
        payload = json.loads(msg.data or b"")
    except (NotFoundError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


async def read_stream(js: JetStreamContext, now: float) -> StreamStatus | None:
    try:
        info = await js.stream_info(STREAM_NAME)
    except NotFoundError:
        return None
    first = await _block_message(js, info, first=True)
    last = await _block_message(js, info, first=False)
    last_time = _str(last.get("timestamp")) if last else None
    try:
        last_age = round(now - chain_time(last_time), 3) if last_time else None
    except ValueError:
        last_age = None
    return StreamStatus(
        name=STREAM_NAME,
        messages=info.state.messages,
        bytes=info.state.bytes,
        first_seq=info.state.first_seq,
        last_seq=info.state.last_seq,
        first_block=_int(first.get("block_num")) if first else None,
        last_block=_int(last.get("block_num")) if last else None,
        last_block_time=last_time,
        last_block_age=last_age,
    )


async def read_consumers(js: JetStreamContext) -> list[ConsumerStatus]:
    consumers = []
    for info in await js.consumers_info(STREAM_NAME):
        config = info.config
        if not config.durable_name:
            continue  # ephemeral: someone reading the stream once, not a worker
        subjects = config.filter_subjects or (
            [config.filter_subject] if config.filter_subject else []
        )
        consumers.append(
            ConsumerStatus(
                name=info.name,
                filter_subjects=list(subjects),
                pending=info.num_pending or 0,
                ack_pending=info.num_ack_pending or 0,
                redelivered=info.num_redelivered or 0,
                waiting=info.num_waiting or 0,
            )
        )
    return sorted(consumers, key=lambda consumer: consumer.name)


async def read_dead_letters(js: JetStreamContext) -> list[DeadLetters]:
    """How many dead letters each worker has (none: an empty list)."""
    try:
        info = await js.stream_info(DEAD_STREAM_NAME, subjects_filter=DEAD_SUBJECT_PREFIX + ">")
    except NotFoundError:
        return []
    subjects = info.state.subjects or {}
    return [
        DeadLetters(subject.removeprefix(DEAD_SUBJECT_PREFIX), count)
        for subject, count in sorted(subjects.items())
        if count
    ]


async def read_reports(js: JetStreamContext) -> dict[str, dict[str, Any]] | None:
    """Every readable report of the status bucket by key; None if the bucket does not exist."""
    try:
        bucket = await js.key_value(STATUS_BUCKET)
    except BucketNotFoundError:
        return None
    try:
        keys = await bucket.keys()
    except NoKeysError:
        return {}
    reports = {}
    for key in sorted(keys):
        try:
            report = json.loads((await bucket.get(key)).value or b"")
        except (KeyNotFoundError, ValueError):
            continue  # expired or deleted since listed; or not ours
        if isinstance(report, dict):
            reports[key] = report
    return reports


async def read_status(js: JetStreamContext, nats_url: str) -> SystemStatus:
    now = time.time()
    stream = await read_stream(js, now)
    consumers = await read_consumers(js) if stream else []
    reports = await read_reports(js)
    found = reports or {}
    broadcaster = found.get(BROADCASTER_STATUS_KEY)
    actions, actions_from = signer_actions(found, now)
    return SystemStatus(
        nats_url=nats_url,
        generated_at=round(now, 3),
        stream=stream,
        broadcaster=broadcaster_status(broadcaster, now) if broadcaster else None,
        consumers=consumers,
        processes=[
            process_status(key, report, now)
            for key, report in found.items()
            if key.startswith(PROCESS_STATUS_PREFIX)
        ],
        status_bucket=reports is not None,
        dead_letters=await read_dead_letters(js),
        actions=actions,
        actions_from=actions_from,
    )
