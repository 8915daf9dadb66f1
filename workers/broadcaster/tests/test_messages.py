import json

from broadcaster.blocks import Block, Operation
from broadcaster.publisher import block_message, op_message, vop_message
from steem_chain.blocks import VirtualOperation

BLOCK = Block(7, "00000007" + "ab" * 16, "00000006" + "cd" * 16, "2016-07-17T12:00:00", ())


def op(body, op_type="comment", problem=""):
    return Operation(op_type, body, 2, 3, "trx-id", problem)


def test_an_operation_goes_to_its_subject_with_positional_id_and_block_headers():
    subject, payload, headers = op_message(BLOCK, op({"author": "a"}), 1_048_576)
    assert subject == "steem.op.comment"
    assert json.loads(payload) == {"author": "a"}
    assert headers == {
        "Nats-Msg-Id": f"{BLOCK.id}/2/3",
        "Steem-Block-Num": "7",
        "Steem-Block-Id": BLOCK.id,
        "Steem-Trx-Id": "trx-id",
        "Steem-Timestamp": "2016-07-17T12:00:00",
    }


def test_awkward_bodies_round_trip_exactly():
    body = {"body": "nul\x00 byte, lone \ud800 surrogate, ünïcode", "json_metadata": "{not json"}
    _, payload, _ = op_message(BLOCK, op(body), 1_048_576)
    payload.decode("utf-8")  # valid UTF-8 whatever the node sent
    assert json.loads(payload) == body


def test_a_malformed_operation_is_quarantined_on_steem_invalid_with_its_problem():
    subject, payload, headers = op_message(BLOCK, op(["x"], None, "not [type, body]"), 1_048_576)
    assert subject == "steem.invalid"
    assert json.loads(payload) == ["x"]
    assert headers["Steem-Problem"] == "not [type, body]"


def test_a_body_over_max_payload_is_announced_on_steem_invalid_not_lost():
    body = {"body": "x" * 70_000}
    assert op_message(BLOCK, op(body), 1_048_576)[0] == "steem.op.comment"  # 64 KB is fine
    subject, payload, headers = op_message(BLOCK, op(body), 65_536)
    assert subject == "steem.invalid"
    assert json.loads(payload)["size"] == len(json.dumps(body, separators=(",", ":")))
    assert "max_payload 65536" in headers["Steem-Problem"]


def test_a_comment_says_what_it_did_and_other_operations_say_nothing():
    edit = Operation("comment", {"author": "a"}, 2, 3, "trx-id", comment="edited")
    assert op_message(BLOCK, edit, 1_048_576)[2]["Steem-Comment"] == "edited"
    assert "Steem-Comment" not in op_message(BLOCK, op({"voter": "v"}, "vote"), 1_048_576)[2]


def test_a_virtual_operation_goes_to_its_subject_with_an_id_from_its_place():
    vop = VirtualOperation("author_reward", {"author": "a"}, 4, "f" * 40)
    subject, payload, headers = vop_message(BLOCK, vop, 1_048_576)
    assert (subject, json.loads(payload)) == ("steem.vop.author_reward", {"author": "a"})
    assert headers == {
        "Nats-Msg-Id": f"{BLOCK.id}/v4",
        "Steem-Block-Num": "7",
        "Steem-Block-Id": BLOCK.id,
        "Steem-Trx-Id": "f" * 40,
        "Steem-Timestamp": "2016-07-17T12:00:00",
    }
    broken = VirtualOperation(None, ["x"], 5, "", "not [type, body] nor {type, value}")
    assert vop_message(BLOCK, broken, 1_048_576)[0] == "steem.invalid"


def test_the_block_message_closes_the_block():
    ops = (op({"a": 1}), Operation("vote", {}, 3, 0, "trx-2"), Operation("vote", {}, 3, 1, "trx-2"))
    vops = (VirtualOperation("producer_reward", {"producer": "x"}, 0, ""),)
    block = Block(BLOCK.num, BLOCK.id, BLOCK.previous, BLOCK.timestamp, ops, vops)
    subject, payload, headers = block_message(block)
    assert subject == "steem.block"
    assert json.loads(payload) == {
        "block_num": 7,
        "block_id": BLOCK.id,
        "previous": BLOCK.previous,
        "timestamp": BLOCK.timestamp,
        "op_count": 3,
        "vop_count": 1,
        "transaction_ids": ["trx-id", "trx-2"],
    }
    assert headers["Nats-Msg-Id"] == f"{BLOCK.id}/block"
