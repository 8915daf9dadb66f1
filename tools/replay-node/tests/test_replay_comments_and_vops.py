"""Comments as of the head (find_comments, get_content), virtual operations in both
get_ops_in_block forms, and the generator's virtual operations and edits."""

from __future__ import annotations

import collections
import copy
import functools
import json
import re

import pytest
from ipc_config.chain import PATCH_PREFIX, post_url
from replay_node.archive import comment_operations, load_archive, new_posts, write_archive
from replay_node.chain_config import parse_time
from replay_node.fork import PERMLINK_SUFFIX
from replay_node.generate import generate_archive, generate_blocks
from steem_testing.paths import MAINNET

FIRST = 900
NO_TRX = "0" * 40


@functools.cache
def _chain(n: int) -> tuple[dict, ...]:
    return tuple(generate_blocks(n, FIRST, seed=11))


def chain(n: int = 12) -> list[dict]:
    return copy.deepcopy(list(_chain(n)))


def comment(author, permlink, body="hello", parent_author="", parent_permlink="life", **more):
    value = {
        "parent_author": parent_author,
        "parent_permlink": parent_permlink,
        "author": author,
        "permlink": permlink,
        "title": more.pop("title", "A title" if not parent_author else ""),
        "body": body,
        "json_metadata": more.pop("json_metadata", '{"tags":["life"]}'),
    }
    return {"type": "comment_operation", "value": value}


def delete(author, permlink):
    return {"type": "delete_comment_operation", "value": {"author": author, "permlink": permlink}}


def with_ops(block: dict, *ops: dict) -> dict:
    """``block`` with one more transaction, first, holding ``ops`` (a fork keeps it: it
    drops the last transaction of a block)."""
    tx = dict(block["transactions"][0], operations=list(ops))
    block["transactions"].insert(0, tx)
    block["transaction_ids"].insert(0, f"{len(block['transactions']):040x}")
    return block


def find(http, *keys):
    return http.result("database_api.find_comments", {"comments": [list(k) for k in keys]})[
        "comments"
    ]


# -- which comment operations create, which edit --------------------------------------


def test_comment_operations_tell_posts_replies_edits_and_deletes():
    def block(num, *ops):
        return {"previous": f"{num - 1:08x}" + "0" * 32, "transactions": [{"operations": ops}]}

    blocks = [
        block(10, comment("ann", "p", "first"), comment("bob", "re-p", parent_author="ann")),
        block(11, ["comment", comment("ann", "p", "@@ -1,5 +1,9 @@\n first\n+ more\n")["value"]]),
        block(12, comment("ann", "p", "first, and the whole new body")),
        block(13, delete("ann", "p"), comment("ann", "p", "again")),
        block(14, {"type": "vote_operation", "value": {"voter": "x"}}, "not an operation"),
    ]
    kinds = [(c.block_num, c.author, c.permlink, c.kind) for c in comment_operations(blocks)]
    assert kinds == [
        (10, "ann", "p", "post"),
        (10, "bob", "re-p", "reply"),
        (11, "ann", "p", "edit"),
        (12, "ann", "p", "edit"),
        (13, "ann", "p", "post"),  # deleted, then created anew
    ]
    assert new_posts(blocks) == [post_url("ann", "p")] * 2
    assert new_posts(blocks, include_edits=True) == [post_url("ann", "p")] * 4


def test_the_bundled_sample_has_edits_half_of_them_resending_the_whole_body():
    blocks = load_archive()
    kinds = collections.Counter(c.kind for c in comment_operations(blocks))
    assert kinds["post"] == 402 and kinds["edit"] >= 100
    first = int(blocks[0]["block_id"][:8], 16)

    def body(c):
        return blocks[c.block_num - first]["transactions"][c.trx_in_block]["operations"][
            c.op_in_trx
        ]["value"]["body"]

    edits = [c for c in comment_operations(blocks) if c.kind == "edit"]
    patches = [e for e in edits if body(e).startswith("@@ -")]
    assert 0 < len(patches) < len(edits), "both patch edits and whole-body edits"


# -- find_comments and get_content ----------------------------------------------------


def test_created_last_update_active_and_deletion_as_of_the_head(in_process_node, client):
    blocks = chain()
    with_ops(blocks[3], comment("ann", "my-post", "the body"))
    with_ops(blocks[5], comment("ann", "my-post", "the whole new body", title="New title"))
    with_ops(blocks[6], comment("bob", "re-my-post", "nice", "ann", "my-post"))
    with_ops(blocks[7], comment("ann", "my-post", "@@ -1,3 +1,3 @@\n-the\n+THE\n"))
    with_ops(blocks[9], delete("ann", "my-post"))
    ts = [b["timestamp"] for b in blocks]
    node = in_process_node(blocks=blocks, start_blocks=3)
    http = client(node.url)
    key = ("ann", "my-post")

    assert find(http, key) == []  # not created yet at the head
    empty = http.result("condenser_api.get_content", list(key))
    assert (empty["author"], empty["created"], empty["id"]) == ("", "1970-01-01T00:00:00", 0)

    node.advance()  # block 3 (index): created
    (c,) = find(http, key)
    assert (c["created"], c["last_update"], c["active"]) == (ts[3], ts[3], ts[3])
    assert (c["title"], c["body"], c["category"], c["depth"], c["children"]) == (
        "A title",
        "the body",
        "life",
        0,
        0,
    )
    assert (c["root_author"], c["root_permlink"]) == key
    assert c["max_accepted_payout"] == {
        "amount": "1000000000",
        "precision": 3,
        "nai": "@@000000013",
    }

    node.advance(3)  # blocks 4..6: a whole-body edit, then a reply
    (c,) = find(http, key)
    assert (c["created"], c["last_update"], c["active"]) == (ts[3], ts[5], ts[6])
    assert (c["title"], c["body"], c["children"]) == ("New title", "the whole new body", 1)
    (reply,) = find(http, ("bob", "re-my-post"))
    assert (reply["depth"], reply["root_author"], reply["category"]) == (1, "ann", "life")
    content = http.result("condenser_api.get_content", ["bob", "re-my-post"])
    assert content["url"] == "/life/@ann/my-post#bob/re-my-post"
    assert content["root_title"] == "New title" and content["created"] == ts[6]
    assert content["max_accepted_payout"] == "1000000.000 SBD"  # the legacy shape

    node.advance()  # block 7: a patch edit: last_update moves, created never does
    (c,) = find(http, key)
    assert (c["created"], c["last_update"]) == (ts[3], ts[7])
    assert c["body"] == "the whole new body", "a patch is not applied (see comments.py)"

    node.advance(2)  # block 9: deleted
    assert find(http, key, ("bob", "re-my-post")) == [reply]
    assert http.result("condenser_api.get_content", list(key))["author"] == ""


def test_every_comment_of_the_sample_has_the_times_of_its_operations(sample_node, client):
    http = client(sample_node.url)
    blocks = load_archive()
    first = int(blocks[0]["block_id"][:8], 16)
    created, last = {}, {}
    for c in comment_operations(blocks):
        when = blocks[c.block_num - first]["timestamp"]
        if c.kind != "edit":
            created[(c.author, c.permlink)] = when
        last[(c.author, c.permlink)] = when
    keys = sorted(created)
    assert len(keys) > 1000
    for at in range(0, len(keys), 1000):
        for c in find(http, *keys[at : at + 1000]):
            key = (c["author"], c["permlink"])
            assert (c["created"], c["last_update"]) == (created[key], last[key]), key
            assert c["active"] >= c["last_update"]


def test_find_comments_limits_and_errors(sample_node, client):
    http = client(sample_node.url)
    too_many = {"comments": [["a", str(n)] for n in range(1001)]}
    error = http.call("database_api.find_comments", too_many)["error"]
    assert "DATABASE_API_SINGLE_QUERY_LIMIT" in error["message"]
    assert http.call("database_api.find_comments", {"authors": []})["error"]["code"] == -32602
    error = http.call("condenser_api.get_content", ["only-an-author"])["error"]
    assert "Expected 2 argument(s), was 1" in error["message"]


def test_a_fork_takes_its_posts_with_it(in_process_node, client):
    blocks = chain(20)
    with_ops(blocks[11], comment("cat", "forked"))
    node = in_process_node(blocks=blocks, start_blocks=12, irreversible_lag=2, forks=[FIRST + 11])
    http = client(node.url)
    assert [c["permlink"] for c in find(http, ("cat", "forked"))] == ["forked"]
    node.advance()  # past the fork: block 11 is now the new branch's
    assert find(http, ("cat", "forked")) == []
    (c,) = find(http, ("cat", "forked" + PERMLINK_SUFFIX))
    assert c["created"] == blocks[11]["timestamp"]


# -- virtual operations ---------------------------------------------------------------


def test_a_recorded_answer_is_served_as_recorded(in_process_node, client, tmp_path):
    path = MAINNET / "steem-vops" / "get_ops_in_block-1000000.account_history_api.json"
    recorded = json.loads(path.read_text())["ops"]
    num = recorded[0]["block"]
    start = parse_time(recorded[0]["timestamp"]) - 3
    blocks = list(generate_blocks(3, num - 1, seed=4, start_time=start))
    blocks[1]["virtual_ops"] = recorded  # an archive keeps them as a node gave them
    archive = tmp_path / "recorded.jsonl"
    write_archive(blocks, archive)
    http = client(in_process_node(archive).url)

    assert http.result("condenser_api.get_ops_in_block", [num, True]) == recorded
    (appbase,) = http.result(
        "account_history_api.get_ops_in_block", {"block_num": num, "only_virtual": True}
    )["ops"]
    assert appbase == dict(
        recorded[0],
        op={
            "type": "producer_reward_operation",
            "value": {
                "producer": "abit",
                "vesting_shares": {"amount": "14403626449", "precision": 6, "nai": "@@000000037"},
            },
        },
    )
    assert list(appbase) == [
        "trx_id",
        "block",
        "trx_in_block",
        "op_in_trx",
        "virtual_op",
        "timestamp",
        "op",
    ]
    every = http.result("condenser_api.get_ops_in_block", [num, False])
    assert every[0]["trx_in_block"] == 0 and every[0]["virtual_op"] == 0
    assert recorded[0] in every
    assert (
        http.result("block_api.get_block", {"block_num": num})["block"] == load_archive(archive)[1]
    )


def test_the_sample_serves_virtual_operations_in_real_shapes(sample_node, client):
    path = MAINNET / "steem-vops" / "get_ops_in_block-1000000.account_history_api.json"
    real_keys = set(json.loads(path.read_text())["ops"][0])
    http = client(sample_node.url)
    blocks = load_archive(None, virtual_ops=True)
    types = collections.Counter()
    for block in blocks[::7]:
        num = int(block["block_id"][:8], 16)
        legacy = http.result("condenser_api.get_ops_in_block", [num, True])
        appbase = http.result(
            "account_history_api.get_ops_in_block", {"block_num": num, "only_virtual": True}
        )["ops"]
        assert len(legacy) == len(appbase) == len(block["virtual_ops"])
        assert legacy[0]["op"] == [
            "producer_reward",
            {"producer": block["witness"], "vesting_shares": legacy[0]["op"][1]["vesting_shares"]},
        ]
        assert re.fullmatch(r"\d+\.\d{6} VESTS", legacy[0]["op"][1]["vesting_shares"])
        for n, (a, b) in enumerate(zip(legacy, appbase, strict=True), 1):
            assert set(a) == set(b) == real_keys
            assert (a["trx_id"], a["trx_in_block"], a["virtual_op"], a["block"]) == (
                NO_TRX,
                2**32 - 1,
                n,
                num,
            )
            assert b["op"]["type"] == a["op"][0] + "_operation"
            types[a["op"][0]] += 1
        every = http.result("condenser_api.get_ops_in_block", [num, False])
        in_block = sum(len(tx["operations"]) for tx in block["transactions"])
        assert every[in_block:] == legacy, "virtual operations come after the transactions'"
    assert {"producer_reward", "curation_reward", "author_reward", "comment_payout_update"} <= set(
        types
    )


def test_the_generator_writes_payouts_withdrawals_and_edits(tmp_path):
    archive = tmp_path / "g.jsonl.gz"
    summary = generate_archive(
        archive, 200, 3000, seed=8, payout_blocks=20, edits_per_block=1, whole_body_edits=0.2
    )
    blocks = load_archive(archive, virtual_ops=True)
    by_num = {int(b["block_id"][:8], 16): b for b in blocks}
    ops = collections.Counter()
    paid: dict[tuple, int] = {}
    for num, block in by_num.items():
        vops = [
            (v["op"]["type"].removesuffix("_operation"), v["op"]["value"])
            for v in block["virtual_ops"]
        ]
        assert vops[0] == (
            "producer_reward",
            {"producer": block["witness"], "vesting_shares": vops[0][1]["vesting_shares"]},
        )
        for name, value in vops:
            ops[name] += 1
            if name == "comment_payout_update":
                paid[(value["author"], value["permlink"])] = num
        order = [name for name, _ in vops if name != "producer_reward"]
        assert order == sorted(order, key=lambda n: n == "fill_vesting_withdraw"), (
            "withdrawals last"
        )
    assert sum(ops.values()) == summary["virtual_ops"]
    assert (
        min(
            ops[n]
            for n in (
                "curation_reward",
                "author_reward",
                "comment_reward",
                "comment_benefactor_reward",
                "fill_vesting_withdraw",
            )
        )
        > 0
    )
    posts = [c for c in comment_operations(blocks) if c.kind == "post"]
    for c in posts:
        due = c.block_num + 20
        assert paid.get((c.author, c.permlink)) == (due if due in by_num else None)

    edits = [c for c in comment_operations(blocks) if c.kind == "edit"]
    assert len(edits) == summary["edits"] > 100
    bodies = [
        blocks[c.block_num - 3000]["transactions"][c.trx_in_block]["operations"][c.op_in_trx][
            "value"
        ]["body"]
        for c in edits
    ]
    whole = [b for b in bodies if not b.startswith(PATCH_PREFIX)]
    assert len(whole) == summary["whole_body_edits"]
    assert 0.1 < len(whole) / len(edits) < 0.3
    assert all(re.match(r"@@ -\d+,\d+ \+\d+,\d+ @@\n ", b) for b in bodies if b not in whole)
    assert new_posts(blocks) == [post_url(c.author, c.permlink) for c in posts]
    assert len(posts) == summary["new_posts"]


def test_generated_archives_have_no_edits_unless_asked(tmp_path):
    blocks = list(generate_blocks(100, 50, seed=2, virtual_ops=True))
    assert all("virtual_ops" in b for b in blocks)
    assert not [c for c in comment_operations(blocks) if c.kind == "edit"]
    with pytest.raises(ValueError):
        list(generate_blocks(2, 50, whole_body_edits=2))
