import json
from pathlib import Path

import pytest
from steem_chain.blocks import BadBlock, block_num_of, parse_block

MAINNET = Path(__file__).parents[3] / "tests" / "fixtures" / "mainnet" / "steem-blocks"


def appbase_block(num: int) -> dict:
    return json.loads((MAINNET / "appbase" / f"{num}.json").read_text())["result"]["block"]


def condenser_block() -> dict:
    return json.loads((MAINNET / "condenser" / "4000001.json").read_text())


@pytest.mark.parametrize("num", [3286849, 5771683, 6531076])
def test_real_appbase_blocks_list_every_operation_in_order(num):
    raw = appbase_block(num)
    block = parse_block(raw, num)
    assert block.num == num
    assert block.id == raw["block_id"]
    assert block.previous == raw["previous"]
    expected = [
        (t, o, op["type"].removesuffix("_operation"), op["value"], raw["transaction_ids"][t])
        for t, trx in enumerate(raw["transactions"])
        for o, op in enumerate(trx["operations"])
    ]
    got = [(op.trx_index, op.op_index, op.type, op.body, op.trx_id) for op in block.operations]
    assert got == expected
    assert all(not op.problem for op in block.operations)


def test_real_condenser_block_has_the_same_operations_under_a_stand_in_id():
    raw = condenser_block()
    block = parse_block(raw, 4000001)
    assert block.num == 4000001
    assert block_num_of(block.id) == 4000001
    assert len(block.id) == 40
    assert parse_block(condenser_block(), 4000001).id == block.id  # stable
    flat = [op for trx in raw["transactions"] for op in trx["operations"]]
    assert [(op.type, op.body) for op in block.operations] == [(name, body) for name, body in flat]
    assert {op.type for op in block.operations} >= {"comment"}


def test_a_block_of_another_number_is_refused():
    with pytest.raises(BadBlock, match="asked for block 3286850, got block 3286849"):
        parse_block(appbase_block(3286849), 3286850)


@pytest.mark.parametrize(
    "raw", [None, {}, [], "x", {"previous": "zz", "timestamp": "", "transactions": []}]
)
def test_empty_or_malformed_answers_are_refused(raw):
    with pytest.raises(BadBlock):
        parse_block(raw, 5)


def test_transaction_ids_must_match_the_transactions():
    raw = appbase_block(6531076)
    raw["transaction_ids"] = raw["transaction_ids"][:-1]
    with pytest.raises(BadBlock, match="transaction ids for"):
        parse_block(raw, 6531076)


def test_malformed_and_unknown_operations_are_kept_not_dropped():
    raw = appbase_block(6531076)
    ops = raw["transactions"][0]["operations"]
    ops.append({"type": "brand_new_operation", "value": {"x": 1}})
    ops.append({"kind": "broken"})
    ops.append({"type": "bad.name", "value": {}})
    block = parse_block(raw, 6531076)
    new, broken, bad_name = [op for op in block.operations if op.trx_index == 0][-3:]
    assert (new.type, new.body) == ("brand_new", {"x": 1})
    assert broken.type is None and broken.body == {"kind": "broken"} and broken.problem
    assert bad_name.type is None and "bad.name" in bad_name.problem
