"""Parsing and filtering real transfer operations, in both API shapes."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from ipc_config import ConfigError
from replay_node.shapes import to_condenser
from transfer_watcher.settings import MinAmount, WatchSettings
from transfer_watcher.transfers import Amount, Transfer

MAINNET = Path(__file__).parents[3] / "tests" / "fixtures" / "mainnet"
BLOCK = 3286849


def condenser_transfer() -> dict:
    """admin -> steemit, "833.000 STEEM": the amount as a string."""
    trx = json.loads((MAINNET / "steem-transactions/condenser/transfer.json").read_text())
    (op,) = trx["operations"]
    assert op[0] == "transfer"
    return op[1]


def appbase_block() -> dict:
    """Block 3286849: 19 transfers from blocktrades, amounts as NAI objects."""
    return json.loads((MAINNET / f"steem-blocks/appbase/{BLOCK}.json").read_text())["result"][
        "block"
    ]


def transfers_of(block: dict) -> list[dict]:
    found = []
    for trx in block["transactions"]:
        for op in trx["operations"]:
            name, body = (op["type"], op["value"]) if isinstance(op, dict) else op
            if name.removesuffix("_operation") == "transfer":
                found.append(body)
    return found


def settings(accounts: str = "", min_amount: str = "") -> WatchSettings:
    return WatchSettings.from_env({"WATCH_ACCOUNTS": accounts, "WATCH_MIN_AMOUNT": min_amount})


def test_a_condenser_transfer_with_its_amount_as_a_string():
    transfer = Transfer.from_op(condenser_transfer())
    assert transfer == Transfer("admin", "steemit", Amount(Decimal("833.000"), "STEEM"), "")
    assert transfer.line(1) == 'transfer 833.000 STEEM admin -> steemit "" (block 1)'


def test_appbase_nai_amounts_read_like_their_condenser_strings():
    appbase = transfers_of(appbase_block())
    condenser = transfers_of(to_condenser(appbase_block()))
    assert len(appbase) == 19
    assert isinstance(appbase[0]["amount"], dict) and isinstance(condenser[0]["amount"], str)
    assert [Transfer.from_op(op) for op in appbase] == [Transfer.from_op(op) for op in condenser]
    lines = [Transfer.from_op(op).line(BLOCK) for op in appbase]
    assert 'transfer 193.255 STEEM blocktrades -> allycat "" (block 3286849)' in lines
    assert 'transfer 0.094 STEEM blocktrades -> bharatkarnani "" (block 3286849)' in lines


@pytest.mark.parametrize(
    ("accounts", "min_amount", "expected"),
    [
        ("", "", 19),  # no accounts: every account, any amount
        ("blocktrades", "", 19),  # the sender
        ("domavila", "", 2),  # a receiver, twice
        ("domavila,allycat,nobody", "", 3),
        ("blocktrades", "1", 17),  # 0.094 and 0.299 STEEM are below
        ("blocktrades", "10 STEEM", 7),
        ("blocktrades", "10.000 steem", 7),
        ("blocktrades", "10 SBD", 0),  # all are STEEM
        ("", "739.398", 1),  # at or above: the largest one is included
        ("", "739.399", 0),
        ("steemit", "", 0),
    ],
)
def test_watched_accounts_and_minimum_amount(accounts, min_amount, expected):
    watch = settings(accounts, min_amount)
    found = [op for op in transfers_of(appbase_block()) if watch.watches(Transfer.from_op(op))]
    assert len(found) == expected


def test_the_minimum_applies_to_its_asset_only():
    sbd = Transfer("alice", "bob", Amount.parse("50.000 SBD"), "")
    steem = Transfer("alice", "bob", Amount.parse("50.000 STEEM"), "")
    assert settings("alice", "10 SBD").watches(sbd)
    assert not settings("alice", "10 SBD").watches(steem)
    assert settings("alice", "10").watches(sbd) and settings("alice", "10").watches(steem)


def test_a_memo_stays_on_one_line():
    transfer = Transfer("alice", "bob", Amount.parse("1.000 SBD"), 'thanks "a lot"\nsee you ü')
    assert (
        transfer.line(7)
        == r'transfer 1.000 SBD alice -> bob "thanks \"a lot\"\nsee you ü" (block 7)'
    )
    assert "\n" not in Transfer("a", "b", transfer.amount, "\ud83d").line(7)


@pytest.mark.parametrize(
    "raw",
    [
        "1.000 VESTS",
        "1.000",
        "STEEM",
        12,
        None,
        {"amount": "1000", "precision": 6, "nai": "@@000000037"},  # VESTS
        {"amount": 1000, "precision": 3, "nai": "@@000000021"},
        {"amount": "-5", "precision": 3, "nai": "@@000000021"},
        {"amount": "1000", "precision": "3", "nai": "@@000000021"},
    ],
)
def test_what_is_not_a_transfer_amount(raw):
    with pytest.raises(ValueError):
        Amount.parse(raw)


def test_a_malformed_transfer_is_a_data_error():
    with pytest.raises(KeyError):
        Transfer.from_op({"from": "alice", "amount": "1.000 STEEM"})
    with pytest.raises(ValueError):
        Transfer.from_op({"from": "alice", "to": 5, "amount": "1.000 STEEM", "memo": ""})


def test_settings_read_accounts_and_minimum():
    watch = settings(" alice, bob.smith ,carol-1,, ", "5.000 SBD")
    assert watch.accounts == {"alice", "bob.smith", "carol-1"}
    assert watch.min_amount == MinAmount(Decimal("5.000"), "SBD")
    assert watch.describe() == (
        "transfers to or from alice, bob.smith, carol-1, of at least 5.000 SBD"
    )
    assert settings().describe() == "transfers to or from every account, of any amount"
    assert str(settings("", "2.5").min_amount) == "of at least 2.5 (any asset)"


@pytest.mark.parametrize("accounts", ["Alice", "al", "a" * 17, "alice bob", "al_ice", "@alice"])
def test_bad_account_names_name_the_variable(accounts):
    with pytest.raises(ConfigError, match=r"^WATCH_ACCOUNTS: .* is not a Steem account name"):
        settings(accounts)


@pytest.mark.parametrize("min_amount", ["ten", "-1", "1.2345", "10 VESTS", "10 STEEM SBD", "1e3"])
def test_bad_minimum_amounts_name_the_variable(min_amount):
    with pytest.raises(ConfigError, match=r"^WATCH_MIN_AMOUNT=.* is not an amount"):
        settings("alice", min_amount)
