import json
from pathlib import Path

import pytest
from ipc_config.chain import ASSET_OF_NAI, NAI_OF_ASSET, block_num_of, is_new_post, post_url

TRANSACTIONS = (
    Path(__file__).parents[3]
    / "tests"
    / "fixtures"
    / "mainnet"
    / "steem-transactions"
    / "condenser"
)


def real_comment() -> dict:
    return json.loads((TRANSACTIONS / "comment.json").read_text())["operations"][0][1]


def test_a_real_new_post_gives_its_steemit_url():
    op = real_comment()
    assert is_new_post(op)
    assert (
        post_url(op["author"], op["permlink"]) == "https://steemit.com/@xeldal/xeldal-witness-post"
    )


def test_replies_and_patch_edits_are_not_new_posts():
    op = real_comment()
    assert not is_new_post({**op, "parent_author": "someone"})
    assert not is_new_post({**op, "body": "@@ -154,16 +154,17 @@\n at coffe\n+e\n"})


@pytest.mark.parametrize(
    "op", [{}, {"author": "a"}, {"parent_author": "", "author": "", "permlink": "p"}]
)
def test_malformed_comments_raise_a_data_error(op):
    with pytest.raises((KeyError, ValueError)):
        is_new_post(op) and post_url(op["author"], op["permlink"])


def test_block_numbers_and_assets():
    assert block_num_of("003226417d8c8b8dbb0c4b4f1d0f4e8d5b0c6a1f") == 3286593
    assert ASSET_OF_NAI[NAI_OF_ASSET["VESTS"]] == "VESTS"
    assert NAI_OF_ASSET["STEEM"] == "@@000000021" and NAI_OF_ASSET["SBD"] == "@@000000013"


def test_the_chain_tells_creation_from_edits_by_the_created_time():
    from ipc_config.chain import comment_state

    op = real_comment()
    assert comment_state(op, "2016-07-17T23:20:54", "2016-07-17T23:20:54") == "created"
    assert comment_state(op, "2016-07-17T23:20:54", "2016-07-17T23:30:00") == "edited"
    assert comment_state(op, None, "2016-07-17T23:30:00") == "gone"
    assert is_new_post(op, "created")
    assert not is_new_post(op, "edited") and not is_new_post(op, "gone")
    assert not is_new_post({**op, "parent_author": "bob"}, "created")
