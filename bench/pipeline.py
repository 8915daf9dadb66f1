"""The pipeline under test: the `broadcaster` and `bot` console scripts, timed end to end.

The bot starts first, against a fresh nats-server, and the clock starts when the
broadcaster is launched. The catch-up is over when the bot's durable consumer has acked
the stream's last comment (after the broadcaster closed the archive's last block and the
bot printed every expected URL). Along the way we note when the stream got its first
and its last block, and read each process's peak RSS and CPU time.
"""

import asyncio
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats
from common import (
    BIN,
    Archive,
    CpuMeter,
    Proc,
    Processes,
    child_env,
    peak_rss_mb,
    start_nats,
    wait_until,
)
from ipc_config import BLOCK_SUBJECT, STREAM_NAME
from nats.js.errors import NotFoundError

POLL = 0.02  # seconds between two looks at the stream and the consumer
COMMENT_SUBJECT = "steem.op.comment"


@dataclass
class Timeline:
    """Seconds from the broadcaster's launch."""

    first_block: float | None = None  # the stream closed its first block
    published: float | None = None  # the stream closed the archive's last block
    printed: float | None = None  # the bot printed the last expected URL
    acked: float | None = None  # the bot's consumer acked the last comment


@dataclass
class PipelineRun:
    label: str
    blocks: int
    ops: int
    posts: int
    timeline: Timeline = field(default_factory=Timeline)
    peak_rss_mb: dict[str, float | None] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    output_ok: bool = False
    error: str = ""

    @property
    def seconds(self) -> float | None:
        return self.timeline.acked

    @property
    def blocks_per_s(self) -> float | None:
        return self.blocks / self.seconds if self.seconds else None

    @property
    def ops_per_s(self) -> float | None:
        return self.ops / self.seconds if self.seconds else None

    @property
    def us_per_op(self) -> float | None:
        return 1e6 * self.seconds / self.ops if self.seconds else None

    @property
    def steady_us_per_op(self) -> float | None:
        """Time per operation after start-up (from the stream's first block)."""
        t = self.timeline
        if not t.acked or t.first_block is None:
            return None
        return 1e6 * (t.acked - t.first_block) / self.ops

    def as_dict(self) -> dict:
        def rounded(value):
            return None if value is None else round(value, 3)

        return {
            "label": self.label,
            "blocks": self.blocks,
            "ops": self.ops,
            "posts": self.posts,
            "seconds": rounded(self.seconds),
            "blocks_per_s": rounded(self.blocks_per_s),
            "ops_per_s": rounded(self.ops_per_s),
            "us_per_op": rounded(self.us_per_op),
            "steady_us_per_op": rounded(self.steady_us_per_op),
            "timeline_s": {k: rounded(v) for k, v in vars(self.timeline).items()},
            "peak_rss_mb": {k: rounded(v) for k, v in self.peak_rss_mb.items()},
            "cpu_s": self.cpu_s,
            "output_ok": self.output_ok,
            "error": self.error,
        }


@dataclass
class Consumer:
    """The consuming half of a pipeline: a fresh nats-server and the bot, ready."""

    nats_url: str
    nats: Proc
    bot: Proc


def start_consumer(procs: Processes, suffix: str = "") -> Consumer:
    """A fresh nats-server and the `bot`, once its durable consumer exists."""
    nats_url, nats_proc = start_nats(procs, "nats-server" + suffix)
    env = child_env(NATS_URL=nats_url)
    bot = procs.start("bot" + suffix, [BIN / "bot"], env, read_stdout=True)
    wait_until(lambda: consumer_exists(nats_url), 30, "the bot's durable consumer", bot, 0.1)
    return Consumer(nats_url, nats_proc, bot)


def start_broadcaster(
    procs: Processes,
    consumer: Consumer,
    node_url: str,
    first_block: int,
    extra_env: dict[str, str] | None = None,
    suffix: str = "",
) -> Proc:
    env = child_env(
        NATS_URL=consumer.nats_url,
        STEEM_NODES=node_url,
        START_BLOCK=str(first_block),
        **(extra_env or {}),
    )
    return procs.start("broadcaster" + suffix, [BIN / "broadcaster"], env)


def consumer_exists(nats_url: str) -> bool:
    async def look() -> bool:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().consumer_info(STREAM_NAME, "bot")
            return True
        except NotFoundError:
            return False
        finally:
            await nc.close()

    return asyncio.run(look())


def run_pipeline(
    workdir: Path,
    archive: Archive,
    node_url: str,
    node: Proc,
    label: str,
    extra_env: dict[str, str] | None = None,
) -> PipelineRun:
    """Catch up the whole archive from its first block; never raises, notes the error."""
    run = PipelineRun(label, archive.blocks, archive.ops, len(archive.posts))
    timeout = 120 + archive.blocks / 50  # far beyond any sane speed: a stuck pipeline
    # A folder of its own, removed afterwards: a big catch-up leaves a big JetStream store.
    with tempfile.TemporaryDirectory(dir=workdir) as own, Processes(Path(own)) as procs:
        try:
            consumer = start_consumer(procs)
            bot = consumer.bot
            cpu = CpuMeter({"nats-server": consumer.nats, "replay-node": node, "bot": bot})
            cpu.start()
            launched = time.monotonic()
            broadcaster = start_broadcaster(procs, consumer, node_url, archive.first, extra_env)
            cpu.add("broadcaster", broadcaster)
            watched = [broadcaster, bot, consumer.nats]
            asyncio.run(
                watch_catchup(
                    consumer.nats_url, archive, bot, watched, launched, run.timeline, timeout
                )
            )
            run.peak_rss_mb = {
                "broadcaster": peak_rss_mb(broadcaster.pid),
                "bot": peak_rss_mb(bot.pid),
            }
            run.cpu_s = cpu.read()
            printed = [line for _, _, line in bot.stdout.lines]
            run.output_ok = printed == [url for url, _ in archive.posts]
        except Exception as err:  # noted in the results; the other measurements go on
            run.error = f"{type(err).__name__}: {err}"
    return run


async def watch_catchup(
    nats_url: str,
    archive: Archive,
    bot: Proc,
    watched: list[Proc],
    launched: float,
    timeline: Timeline,
    timeout: float,
) -> None:
    """Fill `timeline` until the bot's consumer has acked the stream's last comment."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        while timeline.acked is None:
            now = time.monotonic() - launched
            _check_alive(watched, now, timeout)
            if timeline.published is None:
                last = await _last_closed_block(js)
                if last is not None and timeline.first_block is None:
                    timeline.first_block = now
                if last == archive.last:
                    timeline.published = now
            if timeline.printed is None and bot.stdout.count >= len(archive.posts) > 0:
                timeline.printed = bot.stdout.lines[len(archive.posts) - 1][0] - launched
            caught_up = timeline.published is not None and timeline.printed is not None
            if caught_up and await _last_comment_acked(js):
                timeline.acked = time.monotonic() - launched
                return
            await asyncio.sleep(POLL)
    finally:
        await nc.close()


def _check_alive(watched: list[Proc], elapsed: float, timeout: float) -> None:
    for proc in watched:
        if not proc.alive:
            raise RuntimeError(
                f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}"
            )
    if elapsed > timeout:
        raise RuntimeError(f"not caught up after {timeout:.0f} s")


async def _last_closed_block(js) -> int | None:
    try:
        msg = await js.get_last_msg(STREAM_NAME, BLOCK_SUBJECT)
    except NotFoundError:
        return None
    return json.loads(msg.data)["block_num"]


async def _last_comment_acked(js) -> bool:
    last_comment = (await js.get_last_msg(STREAM_NAME, COMMENT_SUBJECT)).seq
    info = await js.consumer_info(STREAM_NAME, "bot")
    return info.ack_floor.stream_seq >= last_comment and info.num_ack_pending == 0
