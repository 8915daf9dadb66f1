"""Two broadcasters at once: one publishes, the other takes over when it dies."""

import asyncio
import json
import os
import signal

import pytest
from replay_node.archive import load_archive
from replay_node.generate import generate_archive
from steem_testing.jetstream import connect_nats
from steem_testing.oracle import expected_messages, stored
from steem_testing.paths import BIN
from steem_testing.proctree import console_script_pids
from steem_testing.status import status_json
from steem_testing.waiting import wait_until

KILLS = 3


async def lease_owner(url: str) -> str | None:
    nc = await connect_nats(url, allow_reconnect=False)
    try:
        entry = await (await nc.jetstream().key_value("steem_lease")).get("broadcaster")
        return json.loads(entry.value)["owner"]
    except Exception:  # no bucket or no holder yet
        return None
    finally:
        await nc.close()


def broadcaster_states(url: str, cwd) -> dict[str, str]:
    """Instance -> state of each broadcaster, as `steem-status --json` shows them."""
    processes = status_json(url, cwd)["processes"]
    return {p["instance"]: p["state"] for p in processes if p["process"] == "broadcaster"}


@pytest.mark.xdist_group("heavy")  # the long runs take turns, beside the short tests
def test_a_standby_takes_over_from_a_killed_broadcaster_without_loss_or_duplicates(
    tmp_path, nats_server, replay_node, procs, read_stream, last_block
):
    archive = tmp_path / "chain.jsonl"
    summary = generate_archive(archive, count=700, start=5000, seed=3)
    node = replay_node(archive, "--pace", "0.03", "--start-blocks", "50", "--irreversible-lag", "2")
    loops = {}
    for instance in ("broadcaster.1", "broadcaster.2"):
        env = {
            "NATS_URL": nats_server.url,
            "STEEM_NODES": node.url,
            "START_BLOCK": "5000",
            "HONCHO_PROCESS_NAME": instance,
            # Slower to restart than the lease takes to expire, so the standby takes over.
            "RESTART_DELAY": "9",
        }
        loops[instance] = procs(
            [BIN / "restart-loop", "--name", instance, "--", "broadcaster"], env=env
        )

    owners = []
    for _ in range(KILLS):
        owner = wait_until(
            lambda: (o := asyncio.run(lease_owner(nats_server.url))) and o not in owners[-1:] and o,
            30,
            "a new lease holder",
        )
        owners.append(owner)
        if len(owners) == 1:
            standby = ({"broadcaster.1", "broadcaster.2"} - {owner.split("@")[0]}).pop()
            expected = {owner.split("@")[0]: "running", standby: "standby"}
            wait_until(
                lambda expected=expected: broadcaster_states(nats_server.url, tmp_path) == expected,
                20,
                f"steem-status to show {expected}",
            )
        at = last_block(nats_server.url) or 0
        wait_until(
            lambda at=at: (last_block(nats_server.url) or 0) >= at + 30, 30, "30 more blocks"
        )
        active = loops[owner.split("@")[0]]
        (pid,) = console_script_pids(active.popen.pid, "broadcaster")
        os.kill(pid, signal.SIGKILL)

    wait_until(lambda: last_block(nats_server.url) == summary["last"], 90, "the last block")
    assert len(set(owners)) == 2, f"the lease went back and forth between both: {owners}"
    assert stored(read_stream(nats_server.url)) == expected_messages(
        load_archive(archive, virtual_ops=True)
    )
    logs = "\n".join(loop.stderr.text() for loop in loops.values())
    assert "standby:" in logs and "is broadcasting; waiting to take over" in logs
