"""Archive loading, shape conversion on real mainnet records, the sample archive."""

from __future__ import annotations

import ast
import gzip
import json
import re
from pathlib import Path

import pytest
from replay_node.archive import (
    ArchiveError,
    load_archive,
    new_posts,
    sample_archive_path,
    write_archive,
)
from replay_node.blocks import normalize_block
from replay_node.shapes import (
    amount_to_nai,
    amount_to_string,
    op_to_appbase,
    op_to_condenser,
    to_appbase,
    to_condenser,
    tx_to_appbase,
    tx_to_condenser,
)
from steem_testing.paths import MAINNET

APPBASE = ["3286849", "5771683", "6531076"]


def appbase_block(fixtures: Path, num: str) -> dict:
    return json.loads((fixtures / "steem-blocks" / "appbase" / f"{num}.json").read_text())[
        "result"
    ]["block"]


def condenser_block(fixtures: Path) -> dict:
    return json.loads((fixtures / "steem-blocks" / "condenser" / "4000001.json").read_text())


def same(a, b) -> bool:
    """Equal including key order (what a client would see byte for byte)."""
    return json.dumps(a) == json.dumps(b)


@pytest.mark.parametrize("num", APPBASE)
def test_real_appbase_blocks_round_trip_exactly(num):
    block = appbase_block(MAINNET, num)
    condenser = to_condenser(block)
    assert same(to_appbase(condenser), block)
    assert same(to_condenser(to_appbase(condenser)), condenser)
    # what condenser_api.get_block adds on modern nodes
    for i, tx in enumerate(condenser["transactions"]):
        assert tx["transaction_id"] == block["transaction_ids"][i]
        assert tx["block_num"] == int(num)
        assert tx["transaction_num"] == i
        for op in tx["operations"]:
            assert isinstance(op, list) and not op[0].endswith("_operation")
    assert to_condenser(block, tx_extras=False)["transactions"][0].keys() == (
        block["transactions"][0].keys()
    )


def test_real_condenser_block_round_trips_exactly():
    block = condenser_block(MAINNET)
    appbase = to_appbase(block)
    assert same(to_condenser(appbase), block)
    op = appbase["transactions"][0]["operations"][0]
    assert op["type"] == "comment_operation"
    assert op["value"]["author"] == "mindfreak"


def test_amounts_convert_both_ways():
    nai = {"amount": "193255", "precision": 3, "nai": "@@000000021"}
    assert amount_to_nai("193.255 STEEM") == nai
    assert amount_to_string(nai) == "193.255 STEEM"
    assert amount_to_nai("0.080 SBD") == {"amount": "80", "precision": 3, "nai": "@@000000013"}
    assert amount_to_string({"amount": "80", "precision": 3, "nai": "@@000000013"}) == "0.080 SBD"
    vests = {"amount": "260000000000", "precision": 6, "nai": "@@000000037"}
    assert amount_to_nai("260000.000000 VESTS") == vests
    assert amount_to_string(vests) == "260000.000000 VESTS"
    assert amount_to_nai("1.0 STEEM") is None  # wrong precision: not an amount
    assert amount_to_nai("1.000 HIVE") is None


def test_free_text_that_looks_like_an_amount_stays_text():
    op = ["transfer", {"from": "a", "to": "b", "amount": "1.000 STEEM", "memo": "1.000 STEEM"}]
    appbase = op_to_appbase(op)
    assert appbase["value"]["amount"] == amount_to_nai("1.000 STEEM")
    assert appbase["value"]["memo"] == "1.000 STEEM"
    assert same(op_to_condenser(appbase), op)


def test_static_variants_convert():
    beneficiaries = [[0, {"beneficiaries": [{"account": "a", "weight": 1000}]}]]
    op = ["comment_options", {"author": "a", "permlink": "p", "extensions": beneficiaries}]
    appbase = op_to_appbase(op)
    assert appbase["value"]["extensions"] == [
        {
            "type": "comment_payout_beneficiaries",
            "value": {"beneficiaries": [{"account": "a", "weight": 1000}]},
        }
    ]
    assert same(op_to_condenser(appbase), op)
    block = {"previous": "00000001" + "0" * 32, "extensions": [[1, "0.19.0"]], "transactions": []}
    assert to_appbase(block)["extensions"] == [{"type": "version", "value": "0.19.0"}]
    assert same(to_condenser(to_appbase(block)), block)


def _fixture_transactions(fixtures: Path) -> list[tuple[str, dict]]:
    out = []
    for path in sorted((fixtures / "steem-transactions" / "condenser").glob("*.json")):
        text = path.read_text()
        try:
            data = json.loads(text)
        except ValueError:
            try:
                data = ast.literal_eval(text)  # convert.json is a Python literal
            except (ValueError, SyntaxError):
                continue  # custom*.json: inner json unescaped (repaired by make_sample.py)
        for tx in data if isinstance(data, list) else [data]:
            if "operations" in tx:
                out.append((path.name, tx))
    return out


def test_every_real_transaction_round_trips_exactly():
    txs = _fixture_transactions(MAINNET)
    assert len(txs) >= 25
    for name, tx in txs:
        appbase = tx_to_appbase(tx)
        assert same(tx_to_condenser(appbase), tx), name
        for op in appbase["operations"]:
            assert op["type"].endswith("_operation"), name
            assert " STEEM" not in json.dumps(op["value"].get("amount", "")), name
    pow2 = dict(txs)["pow2.json"]
    assert tx_to_appbase(pow2)["operations"][0]["value"]["work"]["type"] == "equihash_pow"


def test_normalize_synthesises_stable_ids_for_a_bare_condenser_block():
    block = condenser_block(MAINNET)
    a, b = normalize_block(block), normalize_block(json.loads(json.dumps(block)))
    assert a == b
    assert a["block_id"].startswith("003d0901") and len(a["block_id"]) == 40
    assert len(a["transaction_ids"]) == 4
    assert all(re.fullmatch("[0-9a-f]{40}", t) for t in a["transaction_ids"])
    assert a["signing_key"].startswith("STM")


def test_all_record_forms_load_into_the_same_blocks(tmp_path):
    blocks = load_archive()[100:104]
    lines = [
        json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"block": blocks[0]}}),
        json.dumps(blocks[1]),
        json.dumps(to_condenser(blocks[2])),  # condenser with ids, as modern nodes send it
        json.dumps(blocks[3], indent=None),
    ]
    path = tmp_path / "mixed.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n\n".join(lines) + "\n")
    assert load_archive(path) == blocks


def test_a_single_pretty_printed_response_is_an_archive_too():
    (block,) = load_archive(MAINNET / "steem-blocks" / "appbase" / "3286849.json")
    assert block == appbase_block(MAINNET, "3286849")


def _write_lines(path: Path, blocks: list) -> Path:
    path.write_text("".join(json.dumps(b) + "\n" for b in blocks))
    return path


def test_load_refuses_gaps_broken_links_and_garbage(tmp_path):
    blocks = load_archive()[:5]
    with pytest.raises(ArchiveError, match=r"gap\.jsonl:3: not contiguous: block 3286703"):
        load_archive(_write_lines(tmp_path / "gap.jsonl", blocks[:2] + blocks[3:]))
    broken = [dict(b) for b in blocks]
    broken[3]["previous"] = broken[3]["previous"][:8] + "f" * 32
    with pytest.raises(ArchiveError, match=r"link\.jsonl:4: block 3286703 previous .* block_id"):
        load_archive(_write_lines(tmp_path / "link.jsonl", broken))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(blocks[0]) + "\n{not json\n")
    with pytest.raises(ArchiveError, match=r"bad\.jsonl:2: invalid JSON"):
        load_archive(bad)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ArchiveError, match="no blocks"):
        load_archive(tmp_path / "empty.jsonl")
    with pytest.raises(ArchiveError, match="cannot open"):
        load_archive(tmp_path / "missing.jsonl")
    err = str(pytest.raises(ArchiveError, load_archive, tmp_path / "gap.jsonl").value)
    assert "\n" not in err


def test_write_then_load_is_identity_and_reproducible(tmp_path):
    blocks = load_archive()[:20]
    write_archive(blocks, tmp_path / "a.jsonl.gz")
    write_archive(blocks, tmp_path / "b.jsonl.gz")
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()
    assert load_archive(tmp_path / "a.jsonl.gz") == blocks


def test_new_posts_lists_root_comments_once_in_order():
    def block(*ops):
        return {"transactions": [{"operations": list(ops)}]}

    post = ["comment", {"parent_author": "", "author": "a", "permlink": "p"}]
    reply = ["comment", {"parent_author": "a", "author": "b", "permlink": "re-p"}]
    other = {
        "type": "comment_operation",
        "value": {"parent_author": "", "author": "c", "permlink": "q"},
    }
    blocks = [block(post, reply), block(other, post)]  # the 2nd `post` is an edit
    assert new_posts(blocks) == ["https://steemit.com/@a/p", "https://steemit.com/@c/q"]
    assert new_posts(blocks, include_edits=True)[-1] == "https://steemit.com/@a/p"


def test_sample_archive_embeds_the_real_blocks_and_transactions():
    assert sample_archive_path().name == "sample.jsonl.gz"
    blocks = load_archive()
    nums = [int(b["block_id"][:8], 16) for b in blocks]
    assert nums == list(range(3286700, 3287100))
    by_num = dict(zip(nums, blocks, strict=True))
    assert same(by_num[3286849], appbase_block(MAINNET, "3286849"))
    assert by_num[3286848]["block_id"] == by_num[3286849]["previous"]

    all_txs = [tx for b in blocks for tx in b["transactions"]]
    present = {json.dumps(tx, sort_keys=True) for tx in all_txs}
    real = [appbase_block(MAINNET, n) for n in APPBASE] + [condenser_block(MAINNET)]
    for block in real:
        for tx in to_appbase(block)["transactions"]:
            assert json.dumps(tx, sort_keys=True) in present
    for name, tx in _fixture_transactions(MAINNET):
        assert json.dumps(tx_to_appbase(tx), sort_keys=True) in present, name
    for block in real[:3]:  # real transaction ids are kept
        ids = {i for b in blocks for i in b["transaction_ids"]}
        assert set(block["transaction_ids"]) <= ids
    assert len({json.dumps(tx, sort_keys=True) for tx in all_txs}) == len(all_txs)

    posts = new_posts(blocks)
    assert len(posts) == len(set(posts)) > 300  # each post once, its edits not among them
    assert len(new_posts(blocks, include_edits=True)) > len(posts)
    assert (
        "https://steemit.com/@shla-rafia/viva-la-steem-voting-power-on-75-using-better-steemvoter-and-robotev"
        in posts
    )
