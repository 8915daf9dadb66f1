"""Dead letters with the real processes: the bot gives up on a message, `steem-status`
counts it, `steem-dead` lists it and hands it back to the bot alone."""

import asyncio
import json

from ipc_config import WorkerSettings
from steem_testing.jetstream import publish
from steem_testing.messages import op_headers
from steem_testing.paths import BIN
from steem_testing.status import steem_dead, steem_status
from steem_testing.waiting import wait_until


def dead_letters(nats_url: str, cwd) -> list[dict]:
    result = steem_dead(nats_url, "list", "bot", "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_message_the_bot_gives_up_on_is_kept_counted_listed_and_replayed(
    nats_server, procs, tmp_path
):
    bot = procs([BIN / "bot"], env={"NATS_URL": nats_server.url})
    bot.stderr.wait_for("consuming steem.op.comment", timeout=20)
    settings = WorkerSettings.from_env({"NATS_URL": nats_server.url})
    asyncio.run(publish(settings, [("steem.op.comment", b"not json", op_headers(3, 0, 1))]))
    msg_id = op_headers(3, 0, 1)["Nats-Msg-Id"]

    (letter,) = wait_until(lambda: dead_letters(nats_server.url, tmp_path), 20, "a dead letter")
    assert (letter["worker"], letter["subject"], letter["msg_id"]) == (
        "bot",
        "steem.op.comment",
        msg_id,
    )
    assert letter["error"].startswith("malformed message") and letter["data"] == "not json"
    status = json.loads(steem_status(nats_server.url, "--json", cwd=tmp_path).stdout)
    assert status["dead_letters"] == [{"worker": "bot", "count": 1}]
    assert "steem-dead replay bot" in steem_status(nats_server.url, cwd=tmp_path).stdout

    replayed = steem_dead(nats_server.url, "replay", "bot", cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.strip() == f"sent 1 dead letters back to bot: {letter['seq']}"
    # Still not JSON: the bot meets it again (under its own id) and keeps it again.
    bot.stderr.wait_for(rf"malformed message on steem.op.comment block 3 \({msg_id}\)", start=1)
    (again,) = wait_until(
        lambda: [x for x in dead_letters(nats_server.url, tmp_path) if x["seq"] != letter["seq"]],
        20,
        "the replayed message kept again",
    )
    assert again["msg_id"] == msg_id and again["subject"] == "steem.op.comment"
    assert len(dead_letters(nats_server.url, tmp_path)) == 1, "the replayed letter was not removed"
    assert bot.stdout.lines == []


def test_steem_dead_says_when_nats_cannot_be_reached(tmp_path):
    result = steem_dead("nats://127.0.0.1:1", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("steem-dead: cannot reach NATS at nats://127.0.0.1:1")
