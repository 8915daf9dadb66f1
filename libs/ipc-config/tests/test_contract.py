import pytest
from ipc_config import block_msg_id, op_msg_id, op_subject, op_type_name, stream_config
from ipc_config.settings import StreamSettings


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("comment_operation", "comment"),
        ("comment", "comment"),
        ("custom_json_operation", "custom_json"),
        ("transfer_to_vesting", "transfer_to_vesting"),
        ("some_future_operation", "some_future"),
    ],
)
def test_op_type_names_drop_the_suffix(raw, name):
    assert op_type_name(raw) == name
    assert op_subject(raw) == f"steem.op.{name}"


@pytest.mark.parametrize("raw", ["", "vote.x", "vo te", "*", ">", None, 5, "_operation"])
def test_names_that_cannot_be_one_subject_token_are_refused(raw):
    with pytest.raises(ValueError):
        op_type_name(raw)


def test_message_ids_are_positional_and_distinguish_forks():
    block_a = "003226417d8c8b8dbb0c4b4f1d0f4e8d5b0c6a1f"
    block_b = "00322641aaaaaaaabbbbbbbbccccccccdddddddd"  # same number, another branch
    ids = {op_msg_id(block_a, t, o) for t in range(3) for o in range(3)}
    assert len(ids) == 9
    assert op_msg_id(block_a, 0, 0) != op_msg_id(block_b, 0, 0)
    assert op_msg_id(block_a, 1, 2) == op_msg_id(block_a, 1, 2)
    assert block_msg_id(block_a) not in ids


def test_stream_config_holds_every_steem_subject_on_disk():
    config = stream_config(StreamSettings.from_env({}))
    assert config.name == "STEEM"
    assert config.subjects == [
        "steem.op.>",
        "steem.vop.>",
        "steem.block",
        "steem.fork",
        "steem.invalid",
    ]
    assert config.storage.value == "file"
    assert config.duplicate_window == 120.0
    assert config.max_age == 168 * 3600
