"""Acting through crashes: every new post voted exactly once while the chain loses
transactions and answers and the processes are SIGKILLed.

nats-server, the broadcaster, the upvoter and two signers run under restart-loop against
the test chain (the replay node taking transactions: a generated archive, then empty
blocks) which drops some accepted transactions, loses some answers and refuses some for
RC. Every 0.4 to 2.2 s one of the five (the program, not its loop) is SIGKILLed, in
rounds that kill each once, chosen with random.Random(seed); FAULT_SEED=<seed> replays
the choices. Three requests of another worker vote on posts that do not exist. Then:
each post has one vote in a block, and every earlier transaction of that vote expired in
no block before the next one was taken; the bad votes failed once; no key anywhere.
"""

import asyncio
import json
import os
import random
import re
import signal
import statistics
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from ipc_config import HEADER_MSG_ID, TX_BUCKET, WorkerSettings
from replay_node.accounts import DEMO_ACCOUNT, DEMO_WIF
from replay_node.archive import load_archive
from replay_node.generate import generate_archive
from steem_testing.jetstream import connect_nats, publish
from steem_testing.oracle import new_posts
from steem_testing.paths import BIN
from steem_testing.plugin import report
from steem_testing.proctree import child_pid, sigkill
from steem_testing.servers import free_port
from steem_testing.status import status_json
from steem_testing.waiting import settle, wait_until

SEED = int(os.environ.get("FAULT_SEED", "20261203"))
BLOCKS, FIRST, POSTS_PER_BLOCK, PACE = 240, 5_000_000, 0.45, 0.15
MIN_KILLS, ROUNDS_OF = 20, ("nats", "broadcaster", "upvoter", "signer1", "signer2")
CHAIN_FAULTS = ("--drop-accepted", "0.1", "--lose-answer", "0.1", "--refuse-rc", "0.05")
PROGRAM = {"nats": "nats-server", "broadcaster": "broadcaster", "upvoter": "upvoter",
           "signer1": "signer", "signer2": "signer"}  # fmt: skip
SECRETS = (DEMO_WIF, repr(__import__("beemgraphenebase.account").account.PrivateKey(DEMO_WIF)))
VOTED = re.compile(r"^voted @(\S+)/(\S+) in block (\d+)$")


def start_loops(procs, folder: Path, node_url: str) -> tuple[dict, str]:
    """The five programs, each under its restart loop; returns the loops and NATS's URL."""
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    loop = {"RESTART_DELAY": "0.2", "RESTART_MAX_DELAY": "1", "RESTART_HEALTHY_AFTER": "1",
            "PYTHONFAULTHANDLER": "1"}  # fmt: skip
    common = {**loop, "NATS_URL": url, "STEEM_NODES": node_url,
              "WORKER_STATE_DIR": str(folder / "state")}  # fmt: skip
    nats = [BIN / "nats-server", "-a", "127.0.0.1", "-p", port, "-js", "-sd", folder / "js"]
    commands = {
        "nats": (nats, loop),
        "broadcaster": ([BIN / "broadcaster"], {**common, "START_BLOCK": str(FIRST)}),
        "upvoter": (
            [BIN / "upvoter"],
            {**common, "UPVOTE_ACCOUNT": DEMO_ACCOUNT, "UPVOTE_AUTHORS": "*"},
        ),  # fmt: skip
        "signer1": ([BIN / "signer"], {**common, "STEEM_KEYS": DEMO_WIF, "LOG_LEVEL": "DEBUG"}),
        "signer2": ([BIN / "signer"], {**common, "STEEM_KEYS": DEMO_WIF, "LOG_LEVEL": "DEBUG"}),
    }
    loops = {}
    for name, (command, env) in commands.items():
        args = [BIN / "restart-loop", "--name", name, "--", *command]
        loops[name] = procs(args, name=name, env=env)
        if name == "nats":
            loops[name].stderr.wait_for("Server is ready", timeout=15)
    return loops, url


def chain_votes(node_url: str) -> dict[tuple[str, str], list[dict]]:
    """Each voted post's accepted transactions, in the order the node took them."""
    with urllib.request.urlopen(node_url + "/transactions", timeout=10) as reply:
        taken = json.load(reply)["transactions"]
    votes: dict[tuple[str, str], list[dict]] = {}
    for trx in taken:
        for op in trx["operations"]:
            body = op["value"] if isinstance(op, dict) else op[1]
            votes.setdefault((body["author"], body["permlink"]), []).append(trx)
    return votes


def block_time(node_url: str, num: int) -> str:
    call = {"jsonrpc": "2.0", "id": 1, "method": "condenser_api.get_block_header", "params": [num]}
    with urllib.request.urlopen(urllib.request.Request(node_url, json.dumps(call).encode())) as r:
        return json.load(r)["result"]["timestamp"]


def bad_requests(url: str) -> list[str]:
    """Three requests of a worker `tester` to vote on posts that do not exist."""
    messages, ids = [], []
    for n in range(3):
        trigger = f"{n:040x}/0"
        vote = {"voter": DEMO_ACCOUNT, "author": "nobody-here", "permlink": f"no-post-{n}",
                "weight": 10000}  # fmt: skip
        request = {"id": f"tester/{trigger}/0", "worker": "tester", "account": DEMO_ACCOUNT,
                   "authority": "posting", "operations": [["vote", vote]], "trigger": trigger,
                   "asked_at": "2016-01-01T00:00:00"}  # fmt: skip
        ids.append(request["id"])
        messages.append(("steem.tx.request.tester", json.dumps(request).encode(),
                         {HEADER_MSG_ID: request["id"]}))  # fmt: skip
    asyncio.run(publish(WorkerSettings.from_env({"NATS_URL": url}), messages))
    return ids


def nats_contents(url: str) -> tuple[bytes, dict[str, int]]:
    """Every message of every stream (the key-value buckets too), and what each holds."""

    async def read() -> tuple[bytes, dict[str, int]]:
        nc = await connect_nats(url)
        js, found, counts = nc.jetstream(), [], {}
        for info in await js.streams_info():
            name, state = info.config.name, info.state
            counts[name] = state.messages
            for seq in range(state.first_seq, state.last_seq + 1):
                try:
                    msg = await js.get_msg(name, seq)
                except Exception:  # noqa: BLE001 - deleted or purged: nothing to read
                    continue
                found.append(msg.subject.encode() + b"".join(
                    f"{k}: {v}".encode() for k, v in (msg.headers or {}).items()
                ) + (msg.data or b""))  # fmt: skip
        await nc.close()
        return b"\n".join(found), counts

    return asyncio.run(read())


def stored_records(url: str) -> dict[str, dict]:
    """The signer's records (bucket steem_tx), by request id."""

    async def read() -> dict[str, dict]:
        nc = await connect_nats(url)
        bucket = await nc.jetstream().key_value(TX_BUCKET)
        found = {key: json.loads((await bucket.get(key)).value) for key in await bucket.keys()}
        await nc.close()
        return found

    return asyncio.run(read())


def files_holding_a_secret(folder: Path) -> list[str]:
    return [
        str(path)
        for path in folder.rglob("*")
        if path.is_file() and any(s.encode() in path.read_bytes() for s in SECRETS)
    ]


@pytest.mark.slow
def test_every_post_voted_exactly_once_through_sigkills_and_a_lossy_chain(
    tmp_path, procs, replay_node, request
):
    archive = tmp_path / "chain.jsonl"
    generate_archive(archive, count=BLOCKS, start=FIRST, seed=SEED % 1000,
                     posts_per_block=POSTS_PER_BLOCK)  # fmt: skip
    posts = {url: num for url, num in new_posts(load_archive(archive))}
    assert len(posts) >= 100, f"only {len(posts)} posts: generate more blocks"
    node = replay_node(archive, "--pace", str(PACE), "--start-blocks", "1", "--irreversible-lag",
                       "3", "--keep-producing", "--seed", str(SEED), *CHAIN_FAULTS)  # fmt: skip
    loops, url = start_loops(procs, tmp_path, node.url)
    loops["upvoter"].stdout.wait_for("^voted @", timeout=60)
    bad = bad_requests(url)

    rng, kills, timeline, started = random.Random(SEED), Counter(), [], time.monotonic()
    order: list[str] = []
    while sum(kills.values()) < MIN_KILLS or node.status()["head"] < FIRST + BLOCKS:
        time.sleep(rng.uniform(0.4, 2.2))  # a random moment, not a synchronisation
        order = order or rng.sample(ROUNDS_OF, len(ROUNDS_OF))
        name = order.pop()
        pid = wait_until(lambda n=name: child_pid(loops[n].pid, PROGRAM[n]), 30, f"{name} up")
        if sigkill(pid):
            kills[name] += 1
            timeline.append(f"{time.monotonic() - started:6.1f} s: killed {name} (pid {pid})")
        assert time.monotonic() - started < 120, "the run takes far too long"

    def voted() -> set[str]:
        return {f"https://steemit.com/@{m[1]}/{m[2]}" for line in loops["upvoter"].stdout.lines
                if (m := VOTED.match(line))}  # fmt: skip

    settle(lambda: voted() >= set(posts), 90)
    seconds = time.monotonic() - started

    def signer_counts() -> dict | None:  # reports come every few seconds
        found = status_json(url, tmp_path)
        counts = {a["account"]: a for a in found["actions"]}.get(DEMO_ACCOUNT, {})
        return found if counts.get("pending") == 0 else None

    settle(signer_counts, 20)
    status = status_json(url, tmp_path)
    contents, stream_counts = nats_contents(url)
    records = stored_records(url)
    for name in reversed(list(loops)):  # SIGTERM: everything stops, exit 0
        loops[name].signal(signal.SIGTERM)
        assert loops[name].wait(10) == 0, loops[name].tail()

    lines = {name: proc.stdout.lines + proc.stderr.lines for name, proc in loops.items()}
    (tmp_path / "run.log").write_text("\n".join(
        [f"[{name}] {line}" for name, found in lines.items() for line in found] + timeline))  # fmt: skip
    votes = chain_votes(node.url)
    by_post = {f"https://steemit.com/@{a}/{p}": trxs for (a, p), trxs in votes.items()}
    included = {u: [t for t in trxs if t["status"] == "included"] for u, trxs in by_post.items()}
    printed = [(f"https://steemit.com/@{m[1]}/{m[2]}", int(m[3]))
               for line in loops["upvoter"].stdout.lines if (m := VOTED.match(line))]  # fmt: skip
    delays = sorted(num - posts[u] for u, num in dict(printed).items() if u in posts)
    resigned = sum(len(trxs) - 1 for u, trxs in by_post.items() if u in posts)
    told = status["actions"]
    report(request, "acting", {
        "seed": SEED, "posts": len(posts),
        "votes included": sum(1 for u in posts if len(included.get(u, [])) == 1),
        "twice": sum(1 for u in posts if len(included.get(u, [])) > 1),
        "signed anew after expiry (on chain)": resigned,
        "signed anew (store)": sum(r["attempt"] - 1 for r in records.values()),
        "signed anew (signer logs)": sum(
            "\n".join(lines[s]).count("re-signing ") for s in ("signer1", "signer2")),
        "kills": f"{sum(kills.values())} ({', '.join(f'{k} {v}' for k, v in sorted(kills.items()))})",
        "blocks from post to vote p50/p99": (
            f"{statistics.median(delays):g}/{delays[int(0.99 * (len(delays) - 1))]}"
            if delays else "?"
        ),
        "seconds": round(seconds), "log": tmp_path / "run.log",
    })  # fmt: skip

    problems = []
    for post in posts:
        if len(included.get(post, [])) != 1:
            problems.append(f"{post}: {len(included.get(post, []))} votes in blocks")
        trxs = by_post.get(post, [])
        for earlier, later in zip(trxs, trxs[1:], strict=False):
            taken_at = block_time(node.url, later["accepted_at_block"])
            if earlier["status"] == "included" or taken_at < earlier["expiration"]:
                problems.append(f"{post}: {later['trx_id']} taken at {taken_at} while "
                                f"{earlier['trx_id']} ({earlier['status']}) could still be in")  # fmt: skip
    if (
        set(by_post)
        - set(posts)
        - {f"https://steemit.com/@nobody-here/no-post-{n}" for n in range(3)}
    ):
        problems.append(f"votes on what is no new post: {set(by_post) - set(posts)}")
    if {u for u, _ in printed} != set(posts):
        problems.append(f"printed {len({u for u, _ in printed})} of {len(posts)} votes")
    if len(printed) - len(set(printed)) > kills["upvoter"]:
        problems.append(f"{len(printed) - len(set(printed))} lines printed again")
    if any((u, n) not in {(x, t["block_num"]) for x, ts in included.items() for t in ts}
           for u, n in printed):  # fmt: skip
        problems.append("a printed block number is not the vote's block")
    failed = [m for m in stream_counts if m]  # streams exist
    failed_out = contents.count(b"steem.tx.failed.tester")
    if failed_out != len(bad) or not failed:
        problems.append(f"{failed_out} failed outcomes for {len(bad)} impossible votes")
    mine = {a["account"]: a for a in told}
    if (
        mine.get(DEMO_ACCOUNT, {}).get("included") != len(posts)
        or mine[DEMO_ACCOUNT]["failed"] != 3
    ):
        problems.append(f"steem-status says {told}")
    signed = Counter(m[1] for s in ("signer1", "signer2") for line in lines[s]
                     if (m := re.search(r" signed (\S+) \(", line)))  # fmt: skip
    # One signature per attempt (a signer killed after storing one may not have logged it).
    twice_signed = [k for k, n in signed.items() if n > records.get(k, {}).get("attempt", 0)]
    if twice_signed:
        problems.append(f"requests signed more often than attempted: {twice_signed[:3]}")
    for secret in SECRETS:
        if secret.encode() in contents:
            problems.append("a key in a NATS message")
        if any(secret in line for found in lines.values() for line in found):
            problems.append("a key in a process's output")
    if files_holding_a_secret(tmp_path):
        problems.append(f"a key in files: {files_holding_a_secret(tmp_path)}")
    for name, count in kills.items():
        logged = "\n".join(lines[name]).count(f"restart-loop[{name}]: {name} killed by SIGKILL")
        if logged != count:
            problems.append(f"{count} kills of {name}, {logged} logged by its restart loop")
    for name, found in lines.items():
        exits = [
            x
            for x in found
            if re.search(r"restart-loop\[\w+\]: \S+ (exited with|killed by (?!SIGKILL))", x)
        ]
        if exits or any("Traceback" in x for x in found):
            problems.append(f"{name} failed on its own: {(exits or ['a traceback'])[:3]}")
    assert not problems, "\n".join(problems[:20]) + f"\n(the whole output: {tmp_path / 'run.log'})"
