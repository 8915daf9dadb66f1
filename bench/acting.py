"""Acting latency (issue 10): from a post's block to the block holding its vote, live.

    uv run python bench/acting.py                    # a block every 3 s, 40 posts (~4 min)
    uv run python bench/acting.py --pace 1 --posts 20   # a quicker look

The replay node serves a generated archive as a live chain (`--pace`, head mode, empty
blocks after the archive) and takes transactions. The pipeline follows it as users run
it: nats-server, the broadcaster in head mode, the upvoter (`UPVOTE_AUTHORS=*` as
`replay-demo`) and the signer. Beside it, as the baseline measured in the same run, a
direct voter in this process polls the node's head every 50 ms and votes each new post
at once (as `bench-direct`, signed with the signer's own code): what a bot without
NATS, store or restarts would do. A vote's latency is its block minus the post's block
(1 is the least: a block cannot hold a vote on itself); both voters keep the chain's pace
of one vote per block. Goal: p50 <= 2 blocks, p99 <= 5 for the pipeline.
"""

import argparse
import hashlib
import json
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from beemgraphenebase.account import PrivateKey
from common import BIN, CACHE, Processes, child_env, percentile, start_nats, start_replay_node
from common import wait_until as wait_for
from replay_node.accounts import DEMO_ACCOUNT, DEMO_WIF
from replay_node.archive import load_archive
from replay_node.generate import generate_archive
from signer.keys import Key
from signer.transactions import RefBlock, chain_seconds, chain_timestamp, sign_transaction
from steem_testing.oracle import new_posts

FIRST, SEED, POSTS_PER_BLOCK = 5_000_000, 7, 0.5
DIRECT = "bench-direct"
DIRECT_WIF = str(PrivateKey(hashlib.sha256(b"bench-direct").hexdigest()))


def call(url: str, method: str, params) -> dict:
    payload = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    with urllib.request.urlopen(urllib.request.Request(url, payload.encode()), timeout=10) as r:
        return json.load(r)


class DirectVoter(threading.Thread):
    """Polls the head; votes each new post of a new block at once, one vote per block."""

    def __init__(self, node_url: str, posts: dict[tuple[str, str], int]) -> None:
        super().__init__(daemon=True)
        self.node_url, self.posts, self.stop = node_url, posts, threading.Event()
        self.key = Key(DIRECT_WIF, 1)
        self.queue: list[tuple[str, str]] = []

    def run(self) -> None:
        seen_head, last_vote_head = min(self.posts.values()) - 1, 0
        while not self.stop.wait(0.05):
            props = call(self.node_url, "database_api.get_dynamic_global_properties", {})
            head = props["result"]
            if head["head_block_number"] > seen_head:
                for num in range(seen_head + 1, head["head_block_number"] + 1):
                    self.queue += [post for post, block in self.posts.items() if block == num]
                seen_head = head["head_block_number"]
            if self.queue and head["head_block_number"] > last_vote_head:
                author, permlink = self.queue.pop(0)
                block = call(self.node_url, "block_api.get_block", {"block_num": seen_head})
                ref = RefBlock(seen_head, block["result"]["block"]["block_id"])
                expiration = chain_timestamp(chain_seconds(head["time"]) + 60)
                vote = {"voter": DIRECT, "author": author, "permlink": permlink, "weight": 10000}
                signed = sign_transaction([["vote", vote]], ref, expiration, self.key)
                answer = call(self.node_url, "condenser_api.broadcast_transaction", [signed.trx])
                if "error" in answer:  # refused (too early): again at the next block
                    self.queue.insert(0, (author, permlink))
                last_vote_head = head["head_block_number"]


def vote_blocks(node_url: str) -> dict[str, dict[tuple[str, str], int]]:
    """voter -> (author, permlink) -> block of its vote, from what the node included."""
    with urllib.request.urlopen(node_url + "/transactions", timeout=10) as reply:
        taken = json.load(reply)["transactions"]
    found: dict[str, dict[tuple[str, str], int]] = {}
    for trx in taken:
        if trx["status"] != "included":
            continue
        for op in trx["operations"]:
            body = op["value"] if isinstance(op, dict) else op[1]
            found.setdefault(body["voter"], {})[(body["author"], body["permlink"])] = trx[
                "block_num"
            ]
    return found


def figures(delays: list[int]) -> dict:
    return {"votes": len(delays), "p50": percentile(delays, 0.5), "p90": percentile(delays, 0.9),
            "p99": percentile(delays, 0.99), "max": max(delays, default=None)}  # fmt: skip


def measure(pace: float, count: int, workdir: Path) -> dict:
    blocks = int(count / POSTS_PER_BLOCK) + 10
    path = CACHE / f"acting-{blocks}-from-{FIRST}-seed{SEED}.jsonl"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        generate_archive(
            path, count=blocks, start=FIRST, seed=SEED, posts_per_block=POSTS_PER_BLOCK
        )
    posts = {}
    for url, num in new_posts(load_archive(path)):
        author, permlink = url.rsplit("/@", 1)[1].split("/", 1)
        posts[(author, permlink)] = num
    direct_key = format(Key(DIRECT_WIF, 1).public, "")
    with Processes(workdir) as procs:
        nats_url, _ = start_nats(procs)
        node_url, _ = start_replay_node(
            procs, path, "--pace", str(pace), "--start-blocks", "1", "--irreversible-lag", "2",
            "--keep-producing", "--account", f"{DIRECT}:{direct_key}",
        )  # fmt: skip
        common = {"NATS_URL": nats_url, "STEEM_NODES": node_url, "WORKER_STATE_DIR": str(workdir)}
        signer = procs.start("signer", [BIN / "signer"], child_env(**common, STEEM_KEYS=DEMO_WIF))
        procs.start("upvoter", [BIN / "upvoter"], child_env(
            **common, UPVOTE_ACCOUNT=DEMO_ACCOUNT, UPVOTE_AUTHORS="*"))  # fmt: skip
        wait_for(
            lambda: "requests in the store" in signer.log.read_text(), 60, "the signer", signer
        )
        procs.start("broadcaster", [BIN / "broadcaster"], child_env(
            **common, START_BLOCK=str(FIRST), STREAM_MODE="head"))  # fmt: skip
        direct = DirectVoter(node_url, posts)
        direct.start()
        print(f"{len(posts)} posts over {blocks} blocks, one every {pace:g} s: "
              f"about {blocks * pace:.0f} s", flush=True)  # fmt: skip

        def all_voted() -> bool:
            votes = vote_blocks(node_url)
            return all(len(votes.get(voter, {})) >= len(posts) for voter in (DEMO_ACCOUNT, DIRECT))

        try:
            wait_for(all_voted, blocks * pace * 2 + 60, "every post voted twice", signer, every=1)
        except RuntimeError:
            print(f"votes so far: { {v: len(f) for v, f in vote_blocks(node_url).items()} }")
            for proc in procs._set.started:
                print(f"--- {proc.name}\n{proc.tail(8)}", flush=True)
            raise
        finally:
            direct.stop.set()
        votes = vote_blocks(node_url)
    return {
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "pace_s": pace,
        "posts": len(posts),
        "pipeline": figures(sorted(votes[DEMO_ACCOUNT][p] - n for p, n in posts.items())),
        "direct": figures(sorted(votes[DIRECT][p] - n for p, n in posts.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pace", type=float, default=3.0, help="seconds per block (default 3)")
    parser.add_argument("--posts", type=int, default=40, help="posts to vote (default 40)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="steem-bench-acting-") as tmp:
        result = measure(args.pace, args.posts, Path(tmp))
    print(f"\nblocks from a post's block to its vote's, a block every {args.pace:g} s, head mode")
    print(f"  {'voter':<34}{'votes':>6}{'p50':>6}{'p90':>6}{'p99':>6}{'max':>6}")
    for name, label in (("pipeline", "pipeline (upvoter, signer)"),
                        ("direct", "baseline: direct, polling the head")):  # fmt: skip
        f = result[name]
        print(f"  {label:<34}{f['votes']:>6}{f['p50']:>6}{f['p90']:>6}{f['p99']:>6}{f['max']:>6}")
    met = result["pipeline"]["p50"] <= 2 and result["pipeline"]["p99"] <= 5
    print(f"goal p50 <= 2, p99 <= 5 blocks: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
