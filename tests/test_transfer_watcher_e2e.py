"""transfer-watcher with the real processes: nats-server, replay node, broadcaster.

The expected lines are computed here from the archive itself, not with the watcher's code.
"""

import asyncio
import json
from decimal import Decimal

import pytest
from ipc_config.chain import block_num_of
from replay_node.archive import load_archive, write_archive
from replay_node.shapes import amount_to_string
from steem_testing.jetstream import consumer_info
from steem_testing.oracle import op_body, op_subject, operations
from steem_testing.paths import BIN
from steem_testing.processes import run_command
from steem_testing.waiting import wait_showing, wait_until

WATCHED = {"blocktrades", "admin", "darienle", "fagetara"}
MEMOS = ["", 'order 1234 "express"', "merci, ça marche ✓", "line one\nline two"]


def sample_with_memos(path) -> list[dict]:
    """The bundled sample (which has no memos), with memos on three transfers out of four."""
    blocks = load_archive(None)
    for index, op in enumerate(transfer_ops(blocks)):
        op["memo"] = MEMOS[index % len(MEMOS)]
    write_archive(blocks, path)
    return blocks


def transfer_ops(blocks: list[dict]) -> list[dict]:
    return [
        op_body(op) for _, _, _, op in operations(blocks) if op_subject(op) == "steem.op.transfer"
    ]


def expected_lines(blocks: list[dict], accounts: set[str], minimum: str, asset: str | None):
    lines = []
    for block, _, _, op in operations(blocks):
        if op_subject(op) != "steem.op.transfer":
            continue
        body = op_body(op)
        amount = amount_to_string(body["amount"])  # "833.000 STEEM"
        value, symbol = amount.split()
        if accounts and not {body["from"], body["to"]} & accounts:
            continue
        if (asset and symbol != asset) or Decimal(value) < Decimal(minimum):
            continue
        memo = json.dumps(body["memo"], ensure_ascii=False)
        num = block_num_of(block["block_id"])
        lines.append(f"transfer {amount} {body['from']} -> {body['to']} {memo} (block {num})")
    return lines


async def consumer_settled(url: str, name: str) -> bool:
    """The durable consumer exists and has nothing left to deliver or to be acknowledged."""
    info = await consumer_info(url, name)
    return info is not None and info.num_pending == 0 and info.num_ack_pending == 0


@pytest.mark.parametrize(
    ("accounts", "min_amount", "minimum", "asset"),
    [
        (",".join(sorted(WATCHED)), "1", "1", None),  # some of blocktrades' are below 1
        ("", "100 SBD", "100", "SBD"),  # no accounts: every account
    ],
)
def test_prints_the_watched_transfers_of_the_archive_in_chain_order(
    accounts, min_amount, minimum, asset, tmp_path, nats_server, replay_node, procs, last_block
):
    archive = tmp_path / "sample-with-memos.jsonl"
    blocks = sample_with_memos(archive)
    expected = expected_lines(blocks, set(filter(None, accounts.split(","))), minimum, asset)
    everything = expected_lines(blocks, set(), "0", None)
    assert 5 < len(expected) < len(everything) / 2, "the filter should keep some, not all"
    first, last = (block_num_of(b["block_id"]) for b in (blocks[0], blocks[-1]))

    node = replay_node(archive, "--pace", "0")
    nats_env = {"NATS_URL": nats_server.url}
    broadcaster = procs(
        [BIN / "broadcaster"], env={**nats_env, "STEEM_NODES": node.url, "START_BLOCK": str(first)}
    )
    watcher = procs(
        [BIN / "transfer-watcher"],
        env={**nats_env, "WATCH_ACCOUNTS": accounts, "WATCH_MIN_AMOUNT": min_amount},
    )
    if not accounts:
        watcher.stderr.wait_for("WATCH_ACCOUNTS is not set: printing transfers of every account")
    watcher.stderr.wait_for(r"watching transfers to or from .*, of at least " + min_amount)
    wait_showing(lambda: last_block(nats_server.url) == last, 30, "the last block", broadcaster)
    wait_showing(
        lambda: asyncio.run(consumer_settled(nats_server.url, "transfer-watcher")),
        15,
        "every transfer handled",
        watcher,
    )

    wait_until(lambda: len(watcher.stdout.lines) >= len(expected), 5, "the last lines")
    printed = watcher.stdout.text().splitlines()
    assert printed == expected
    for memo in MEMOS:  # every kind of memo came through, quoted, on one line
        assert any(f" {json.dumps(memo, ensure_ascii=False)} (block " in line for line in printed)
    assert "Traceback" not in watcher.stderr.text()
    watcher.stop()
    assert watcher.popen.returncode == 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("WATCH_ACCOUNTS", "alice,Bob", "WATCH_ACCOUNTS: 'Bob' is not a Steem account name"),
        ("WATCH_MIN_AMOUNT", "10 VESTS", "WATCH_MIN_AMOUNT='10 VESTS' is not an amount"),
    ],
)
def test_bad_settings_stop_it_with_one_line_and_exit_2(variable, value, message, tmp_path):
    watcher = run_command([BIN / "transfer-watcher"], {variable: value}, cwd=tmp_path, timeout=10)
    assert watcher.returncode == 2
    assert watcher.stdout == ""
    (line,) = watcher.stderr.splitlines()
    assert line.startswith(f"transfer-watcher: configuration error: {message}")
