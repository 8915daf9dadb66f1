"""Bad input: real chain data of every shape, hostile operation bodies, malformed messages
and bad settings. Nothing is lost, nothing crashes, nothing loops.

One archive holds a block per case (every real transaction of the fixtures, then the
hostile ones); the broadcaster and the bot run over it once (module fixture) and each
case is checked by its own test.
"""

import asyncio
import importlib.util
import json
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from ipc_config import WorkerSettings
from ipc_config.chain import block_num_of
from replay_node.archive import load_archive, write_archive
from replay_node.blocks import synthetic_tx_id
from replay_node.generate import generate_blocks
from replay_node.shapes import tx_to_appbase
from steem_testing.jetstream import (
    StoredMessage,
    consumer_info,
    last_block_of,
    publish,
    stream_messages,
)
from steem_testing.oracle import (
    expected_messages,
    expected_posts,
    first_difference,
    op_body,
    op_subject,
    stored,
)
from steem_testing.paths import BIN, MAINNET, ROOT
from steem_testing.processes import ProcessSet
from steem_testing.servers import NatsServer, free_port, start_replay_node
from steem_testing.waiting import settle
from steem_testing.waiting import wait_until as wait

# The module's fixtures run the processes once for all its tests: keep them on one worker.
pytestmark = pytest.mark.xdist_group("faults_input")

TRANSACTION_FILES = sorted(p.name for p in (MAINNET / "steem-transactions" / "condenser").iterdir())
REAL_BLOCKS = ["appbase/3286849.json", "appbase/5771683.json", "appbase/6531076.json"]
REAL_BLOCKS += ["condenser/4000001.json"]
FIRST = 5_000_000
KB64 = 64 * 1024


def read_fixture_transactions(path: Path) -> list[dict]:
    """The fixture's transactions, with its known quirks repaired as the sample builder does
    (Python literal, unescaped inner JSON, a bare operation body)."""
    script = ROOT / "tools" / "replay-node" / "scripts" / "make_sample.py"
    spec = importlib.util.spec_from_file_location("make_sample", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    transactions = module.read_transactions(path)
    for trx in transactions:
        trx.pop("_wrap", None)
    return transactions


# -- the hostile cases ----------------------------------------------------------------


def post(author: str, permlink: str, **fields) -> dict:
    value = {
        "parent_author": "",
        "parent_permlink": "test",
        "author": author,
        "permlink": permlink,
        "title": "A title",
        "body": "A body.",
        "json_metadata": '{"tags":["test"]}',
    }
    value.update(fields)
    return {"type": "comment_operation", "value": value}


HOSTILE = {
    "null bytes": [
        post(
            "nul",
            "null-bytes",
            title="nul\u0000title",
            body="a\u0000b\u0000",
            json_metadata="{}\u0000",
        )
    ],
    "lone surrogates": [
        post(
            "surrogate",
            "lone-surrogates",
            title="\udfff",
            body="x\ud800y",
            json_metadata='{"a":"\ud83d"}',
        ),
        {
            "type": "vote_operation",
            "value": {"voter": "v", "author": "a", "permlink": "\ud800", "weight": 1},
        },
    ],
    "64 KB body": [post("big", "a-64-kb-body", body="é" + "x" * (KB64 - 2) + "\u20ac")],
    "json_metadata not JSON": [
        post("meta", "metadata-not-json", json_metadata="{not json"),
        post("meta", "metadata-empty", json_metadata=""),
        post("meta", "metadata-a-list", json_metadata="[1, 2"),
    ],
    "unknown operation type": [
        {"type": "brand_new_thing_operation", "value": {"who": "someone", "what": [1, 2]}},
        {"type": "another_future_op", "value": "not even an object"},
    ],
}
WRONG_SHAPES = {
    "no value": {"type": "vote_operation"},
    "extra key": {"type": "vote_operation", "value": {"voter": "a"}, "extra": 1},
    "a string": "vote",
    "three items": ["vote", {"voter": "a"}, "x"],
    "type not a string": {"type": 42, "value": {}},
    "type with a dot": {"type": "bad.name_operation", "value": {}},
    "type with a space": {"type": "vote now_operation", "value": {}},
    "null": None,
}


@dataclass
class Case:
    name: str
    num: int  # the block that holds it


@dataclass
class Run:
    blocks: list[dict]  # as the node serves them
    cases: dict[str, Case]
    messages: list[StoredMessage]
    broadcaster_log: str
    broadcaster_rc: int | None
    bot_urls: list[str]
    bot_log: str
    bot_rc: int | None

    def block(self, name: str) -> dict:
        num = self.cases[name].num
        return next(b for b in self.blocks if block_num_of(b["block_id"]) == num)

    def ops_of(self, block: dict) -> list[StoredMessage]:
        prefix = block["block_id"] + "/"
        return [
            m
            for m in self.messages
            if m.headers["Nats-Msg-Id"].startswith(prefix) and m.subject != "steem.block"
        ]


def build_archive(path: Path) -> dict[str, Case]:
    """Blocks FIRST.. : every fixture transaction file, the hostile cases, a normal block."""
    contents: list[tuple[str, list[dict]]] = []
    for name in TRANSACTION_FILES:
        contents.append(
            (name, read_fixture_transactions(MAINNET / "steem-transactions" / "condenser" / name))
        )
    for name, ops in HOSTILE.items():
        contents.append((name, [{"operations": ops}]))
    for name, op in WRONG_SHAPES.items():
        contents.append((f"wrong shape: {name}", [{"operations": [op]}]))
    contents.append(("the end", []))

    blocks = list(generate_blocks(len(contents), FIRST, seed=11))
    cases = {}
    for block, (name, transactions) in zip(blocks, contents, strict=True):
        envelope = {k: v for k, v in block["transactions"][0].items() if k != "operations"}
        if transactions:
            block["transactions"] = [tx_to_appbase({**envelope, **trx}) for trx in transactions]
            block["transaction_ids"] = [synthetic_tx_id(trx) for trx in block["transactions"]]
        cases[name] = Case(name, block_num_of(block["block_id"]))
    write_archive(blocks, path)
    return cases


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    """Broadcaster and bot over the whole archive, then both stopped with SIGTERM."""
    tmp = tmp_path_factory.mktemp("bad-input")
    archive = tmp / "bad-input.jsonl"
    cases = build_archive(archive)
    blocks = load_archive(archive, virtual_ops=True)
    last = block_num_of(blocks[-1]["block_id"])
    posts = expected_posts(blocks)
    with ProcessSet(tmp) as spawn:
        nats = NatsServer(spawn, tmp / "jetstream").start()
        node = start_replay_node(spawn, archive, "--pace", "0")
        env = {"NATS_URL": nats.url, "STEEM_NODES": node.url, "START_BLOCK": str(FIRST)}
        broadcaster = spawn([BIN / "broadcaster"], env=env)
        bot = spawn([BIN / "bot"], env={"NATS_URL": nats.url})
        # The tests judge the outcome; here we only wait for it (or for a dead end).
        settle(lambda: last_block_of(nats.url) == last or not broadcaster.alive, 60)
        settle(lambda: len(bot.stdout.lines) >= len(posts) or not bot.alive, 30)
        for proc in (broadcaster, bot):
            proc.signal(signal.SIGTERM)
        rcs = [proc.wait(10) for proc in (broadcaster, bot)]
        messages = asyncio.run(stream_messages(nats.url))
    return Run(
        blocks=blocks,
        cases=cases,
        messages=messages,
        broadcaster_log=broadcaster.stderr.text(),
        broadcaster_rc=rcs[0],
        bot_urls=list(bot.stdout.lines),
        bot_log=bot.stderr.text(),
        bot_rc=rcs[1],
    )


def assert_published_as_served(run: Run, block: dict) -> None:
    """Each operation of `block` is on its subject, with the body the node sent, and the
    headers that say where it comes from."""
    num = block_num_of(block["block_id"])
    ops = [
        (t, o, op)
        for t, trx in enumerate(block["transactions"])
        for o, op in enumerate(trx["operations"])
    ]
    messages = run.ops_of(block)
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [
        f"{block['block_id']}/{t}/{o}" for t, o, _ in ops
    ], f"block {num}: operations missing, duplicated or out of order"
    for message, (t, o, op) in zip(messages, ops, strict=True):
        assert message.subject == op_subject(op), f"block {num} op {t}/{o}"
        assert json.loads(message.data) == op_body(op), f"block {num} op {t}/{o}: body changed"
        assert message.headers["Steem-Block-Num"] == str(num)
        assert message.headers["Steem-Block-Id"] == block["block_id"]
        assert message.headers["Steem-Trx-Id"] == block["transaction_ids"][t]
        assert message.headers["Steem-Timestamp"] == block["timestamp"]


# -- the whole run --------------------------------------------------------------------


def test_the_stream_holds_every_message_of_the_bad_input_once_in_order(run):
    got, want = stored(run.messages), expected_messages(run.blocks)
    assert got == want, first_difference(got, want)
    closing = [json.loads(m.data) for m in run.messages if m.subject == "steem.block"]
    assert [c["op_count"] for c in closing] == [
        sum(len(trx["operations"]) for trx in b["transactions"]) for b in run.blocks
    ]


def test_neither_worker_crashed_on_the_bad_input(run):
    assert "Traceback" not in run.broadcaster_log, run.broadcaster_log[-3000:]
    assert "Traceback" not in run.bot_log, run.bot_log[-3000:]
    assert run.broadcaster_rc == 0, f"broadcaster exited {run.broadcaster_rc} on SIGTERM"
    assert run.bot_rc == 0, f"bot exited {run.bot_rc} on SIGTERM"


def test_the_bot_printed_every_new_post_of_the_bad_input_once(run):
    assert run.bot_urls == expected_posts(run.blocks), (
        "the bot's stdout must be the new posts in chain order (null bytes, lone surrogates, "
        "a 64 KB body or non-JSON json_metadata do not stop a post)\n" + run.bot_log[-2000:]
    )


# -- real chain data ------------------------------------------------------------------


@pytest.mark.parametrize("name", TRANSACTION_FILES)
def test_every_operation_type_of_the_mainnet_fixtures_is_published(run, name):
    block = run.block(name)
    assert_published_as_served(run, block)
    types = {op_subject(op) for trx in block["transactions"] for op in trx["operations"]}
    assert "steem.invalid" not in types, f"{name}: a real operation was taken as malformed"


@pytest.fixture(scope="module")
def real_block_runs(tmp_path_factory) -> dict[str, tuple[dict, list[StoredMessage]]]:
    """Each real block served by its own replay node, read by its own broadcaster (in
    parallel: a broadcaster follows one chain, and these blocks are far apart)."""
    tmp = tmp_path_factory.mktemp("real-blocks")
    results = {}
    with ProcessSet(tmp) as spawn:
        stacks = []
        for fixture in REAL_BLOCKS:
            archive = tmp / (fixture.replace("/", "-") + "l")
            write_archive(load_archive(MAINNET / "steem-blocks" / fixture), archive)
            (block,) = load_archive(
                archive, virtual_ops=True
            )  # as the node serves it: appbase shape
            nats = NatsServer(spawn, tmp / f"js-{archive.stem}").start()
            node = start_replay_node(spawn, archive, "--pace", "0")
            num = block_num_of(block["block_id"])
            env = {"NATS_URL": nats.url, "STEEM_NODES": node.url, "START_BLOCK": str(num)}
            stacks.append((fixture, block, nats, spawn([BIN / "broadcaster"], env=env)))
        for fixture, block, nats, broadcaster in stacks:
            num = block_num_of(block["block_id"])
            settle(
                lambda n=nats, b=broadcaster, k=num: last_block_of(n.url) == k or not b.alive, 30
            )
            results[fixture] = (block, asyncio.run(stream_messages(nats.url)), broadcaster)
    return results


@pytest.mark.parametrize("fixture", REAL_BLOCKS)
def test_every_real_block_is_published(real_block_runs, fixture):
    block, messages, broadcaster = real_block_runs[fixture]
    assert "Traceback" not in broadcaster.stderr.text(), broadcaster.stderr.text()[-3000:]
    run = Run([block], {}, messages, "", None, [], "", None)
    assert stored(messages) == expected_messages([block])
    assert_published_as_served(run, block)
    closing = json.loads(messages[-1].data)
    assert closing == {
        "block_num": block_num_of(block["block_id"]),
        "block_id": block["block_id"],
        "previous": block["previous"],
        "timestamp": block["timestamp"],
        "op_count": sum(len(trx["operations"]) for trx in block["transactions"]),
        "vop_count": len(block["virtual_ops"]),
        "transaction_ids": block.get("transaction_ids", []),  # condenser blocks carry none
    }


# -- hostile operation bodies ---------------------------------------------------------


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_operation_bodies_are_published_unchanged(run, name):
    """Null bytes, lone surrogates, 64 KB, non-JSON json_metadata, unknown types: each
    operation on its own subject, its body exactly as the node sent it."""
    assert_published_as_served(run, run.block(name))


def test_lone_surrogates_reach_the_stream_as_valid_utf8_json(run):
    (message, vote) = run.ops_of(run.block("lone surrogates"))
    for m in (message, vote):
        m.data.decode("utf-8")  # a payload NATS consumers can decode
    assert json.loads(vote.data)["permlink"] == "\ud800"


def test_a_64_kb_body_is_not_cut(run):
    (message,) = run.ops_of(run.block("64 KB body"))
    body = json.loads(message.data)["body"]
    assert len(body) == KB64 and body.endswith("\u20ac")


def test_unknown_operation_types_get_their_own_subject(run):
    subjects = [m.subject for m in run.ops_of(run.block("unknown operation type"))]
    assert subjects == ["steem.op.brand_new_thing", "steem.op.another_future_op"]


@pytest.mark.parametrize("shape", list(WRONG_SHAPES))
def test_a_wrongly_shaped_operation_is_published_on_steem_invalid_and_logged(run, shape):
    block = run.block(f"wrong shape: {shape}")
    num = block_num_of(block["block_id"])
    (message,) = run.ops_of(block)
    assert message.subject == "steem.invalid", f"{shape}: not on steem.invalid"
    assert json.loads(message.data) == WRONG_SHAPES[shape], "the operation must be kept whole"
    assert message.headers.get("Steem-Problem"), "a Steem-Problem header says what is wrong"
    assert re.search(rf"\b{num}\b.*steem\.invalid", run.broadcaster_log), (
        f"no log line names block {num} and steem.invalid"
    )


# -- malformed messages on steem.op.comment -------------------------------------------

MALFORMED_MESSAGES = {
    "not JSON": b"{this is not json",
    "not UTF-8": b"\xff\xfe\xfd",
    "empty": b"",
    "a JSON list": b"[1, 2, 3]",
    "a JSON string": b'"a post"',
    "no parent_author": b'{"author": "a", "permlink": "p"}',
    "no author": b'{"parent_author": "", "permlink": "p"}',
    "no permlink": b'{"parent_author": "", "author": "a"}',
    "empty author": b'{"parent_author": "", "author": "", "permlink": "p"}',
    "author not a string": b'{"parent_author": "", "author": 5, "permlink": "p"}',
}


def publish_comments(url: str, items: list[tuple[str, bytes]]) -> None:
    """`(Nats-Msg-Id, payload)` messages stored on steem.op.comment."""
    messages = [("steem.op.comment", data, {"Nats-Msg-Id": msg_id}) for msg_id, data in items]
    asyncio.run(publish(WorkerSettings.from_env({"NATS_URL": url}), messages))


async def consumer_state(url: str) -> dict:
    info = await consumer_info(url, "bot")
    return {
        "pending": info.num_pending,
        "ack_pending": info.num_ack_pending,
        "redelivered": info.num_redelivered,
        "ack_floor": info.ack_floor.stream_seq,
    }


def valid_post(permlink: str) -> bytes:
    return json.dumps(
        {"parent_author": "", "author": "good", "permlink": permlink, "body": "x"}
    ).encode()


def test_the_bot_logs_and_acks_malformed_comment_messages_and_goes_on(nats_server, procs):
    bot = procs([BIN / "bot"], env={"NATS_URL": nats_server.url})
    bot.stderr.wait_for("consuming steem.op.comment", timeout=20)
    items = [(f"bad/{i}", data) for i, data in enumerate(MALFORMED_MESSAGES.values())]
    items.append(("good/1", valid_post("after-the-bad-ones")))
    publish_comments(nats_server.url, items)
    bot.stdout.wait_for("after-the-bad-ones", timeout=20)

    for i, name in enumerate(MALFORMED_MESSAGES):
        # stderr is read by its own thread, which may still be behind stdout's.
        wait(lambda i=i: f"(bad/{i})" in bot.stderr.text(), 10, f"'{name}' (bad/{i}) logged")
    log = bot.stderr.text()
    assert "Traceback" not in log, log
    assert bot.stdout.lines == ["https://steemit.com/@good/after-the-bad-ones"]
    state = wait(
        lambda: (
            (s := asyncio.run(consumer_state(nats_server.url)))["ack_floor"] == len(items) and s
        ),
        10,
        "every message acknowledged or terminated",
    )
    assert state == {"pending": 0, "ack_pending": 0, "redelivered": 0, "ack_floor": len(items)}

    # A restarted bot does not see them again: they are done, not waiting for redelivery.
    bot.stop()
    again = procs([BIN / "bot"], env={"NATS_URL": nats_server.url}, name="bot-again")
    again.stderr.wait_for("consuming steem.op.comment", timeout=20)
    publish_comments(nats_server.url, [("good/2", valid_post("second"))])
    again.stdout.wait_for("second", timeout=20)
    assert again.stdout.lines == ["https://steemit.com/@good/second"]
    assert "bad/" not in again.stderr.text(), "a malformed message was delivered again"


# -- bad settings ---------------------------------------------------------------------

BAD_SETTINGS = [
    ("broadcaster", "STEEM_NODES", "api.steemit.com"),
    ("broadcaster", "STEEM_NODES", "ftp://node.example"),
    ("broadcaster", "START_BLOCK", "abc"),
    ("broadcaster", "START_BLOCK", "0"),
    ("broadcaster", "STREAM_MODE", "fastest"),
    ("broadcaster", "FETCH_BATCH_SIZE", "0"),
    ("broadcaster", "FETCH_BATCH_SIZE", "ten"),
    ("broadcaster", "NODE_TIMEOUT", "soon"),
    ("broadcaster", "NODE_TIMEOUT", "-1"),
    ("broadcaster", "NATS_URL", "localhost:4222"),
    ("broadcaster", "STREAM_MAX_AGE_HOURS", "a week"),
    ("broadcaster", "STREAM_MAX_BYTES", "5GB"),
    ("broadcaster", "STREAM_DUPLICATE_WINDOW", "0"),
    ("broadcaster", "LOG_LEVEL", "LOUD"),
    ("bot", "NATS_URL", "nats://:4222"),
    ("bot", "STREAM_MAX_AGE_HOURS", "-2"),
    ("bot", "STREAM_MAX_BYTES", "-1"),
    ("bot", "STREAM_DUPLICATE_WINDOW", "2 minutes"),
    ("bot", "LOG_LEVEL", "chatty"),
]


@pytest.mark.parametrize(
    "program, variable, value", BAD_SETTINGS, ids=[f"{p}-{v}={x}" for p, v, x in BAD_SETTINGS]
)
def test_a_bad_setting_stops_at_start_with_one_line_and_is_not_restarted(
    procs, program, variable, value
):
    nobody = f"127.0.0.1:{free_port()}"  # if the setting slips through, nothing answers
    env = {"NATS_URL": f"nats://{nobody}", "STEEM_NODES": f"http://{nobody}", variable: value}
    loop = procs(
        [BIN / "restart-loop", "--name", program, "--delay", "0.1", "--", BIN / program], env=env
    )
    try:
        code = loop.popen.wait(15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{program} with {variable}={value!r} did not stop: the value was accepted")
    loop.stderr.wait_for("not restarting", timeout=5)
    lines = loop.stderr.lines
    own = [line for line in lines if not line.startswith("restart-loop[")]
    assert code == 2, f"restart-loop exited {code}; expected 2 (a configuration error)\n{lines}"
    assert len(own) == 1, f"expected one line from {program}, got:\n" + "\n".join(own)
    assert own[0].startswith(f"{program}: configuration error: "), own[0]
    assert variable in own[0], f"the line does not name {variable}: {own[0]}"
    assert sum(bool(re.search(r"\b(re)?started\b", line)) for line in lines) == 1, (
        "restart-loop restarted a process that exited with code 2:\n" + "\n".join(lines)
    )
    assert "not restarting" in lines[-1], lines
