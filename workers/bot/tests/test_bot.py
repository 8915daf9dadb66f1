"""The bot's handler, in memory: what it prints for real and broken comments."""

import asyncio
import json
from pathlib import Path

import pytest
from bot.cli import worker
from steem_testing.memory import WorkerHarness

TRANSACTIONS = Path(__file__).parents[3] / "tests/fixtures/mainnet/steem-transactions/condenser"


def real_comment() -> dict:
    return json.loads((TRANSACTIONS / "comment.json").read_text())["operations"][0][1]


def send(body, state: str | None = None) -> str:
    headers = {"Steem-Comment": state} if state else {}
    return asyncio.run(WorkerHarness(worker).op("comment", body, headers=headers))


def test_a_real_new_post_prints_its_url(capsys):
    assert send(real_comment()) == "handled"
    assert capsys.readouterr().out == "https://steemit.com/@xeldal/xeldal-witness-post\n"


def test_replies_and_patch_edits_print_nothing(capsys):
    op = real_comment()
    assert send({**op, "parent_author": "someone"}) == "skipped"
    assert send({**op, "body": "@@ -154,16 +154,17 @@\n at coffe\n+e\n"}) == "skipped"
    assert capsys.readouterr().out == ""


def test_the_chain_tells_a_new_post_from_an_edit_that_resends_the_whole_body(capsys):
    """The broadcaster writes what the chain says in the Steem-Comment header."""
    op = real_comment()
    assert send(op, "created") == "handled"
    assert send(op, "edited") == "skipped"  # the whole body again: an edit all the same
    assert send(op, "gone") == "skipped"  # deleted since: nothing to link to
    assert send({**op, "parent_author": "someone"}, "created") == "skipped"  # a reply
    assert capsys.readouterr().out == "https://steemit.com/@xeldal/xeldal-witness-post\n"


@pytest.mark.parametrize(
    "op", [{}, {"author": "a"}, {"parent_author": "", "author": "", "permlink": "p"}]
)
def test_malformed_comments_are_dropped_not_retried(op, capsys):
    assert send(op) == "dropped"
    assert capsys.readouterr().out == ""
