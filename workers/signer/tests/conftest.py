"""What the signer's tests share: the test chain (the replay node taking transactions),
requests shaped as the kit writes them, and readers of what the chain, the stream and the
store hold afterwards."""

import asyncio
import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from ipc_config import HEADER_MSG_ID, HEADER_REQUEST_ID, TX_BUCKET, TX_STREAM_NAME, WorkerSettings
from nats.js.errors import NoKeysError
from replay_node.accounts import DEMO_ACCOUNT, DEMO_WIF
from replay_node.archive import load_archive
from steem_testing.jetstream import publish, stream_messages, with_js
from steem_testing.oracle import new_posts

# A valid key that no account of the test chain holds: sha256("not held") as a key.
UNHELD_WIF = "5K3T1XukY5U5PRusw2ijJMMU1TuCKMwEorybhU1r1EZFNZME67v"
VISIBLE = 60  # blocks of the sample the node shows at start: the posts in them exist
CHAIN_OPTIONS = ("--pace", "0.1", "--start-blocks", str(VISIBLE), "--irreversible-lag", "2")


class Acting:
    """Helpers of the signer's tests (a fixture: pytest imports conftest modules by path)."""

    DEMO_ACCOUNT = DEMO_ACCOUNT
    DEMO_WIF = DEMO_WIF
    UNHELD_WIF = UNHELD_WIF
    CHAIN_OPTIONS = CHAIN_OPTIONS

    @staticmethod
    def sample_posts(count: int) -> list[tuple[str, str]]:
        """(author, permlink) of new posts in the blocks the node shows at start."""
        posts = [
            tuple(url.rsplit("/@", 1)[1].split("/", 1))
            for url, _ in new_posts(load_archive()[: VISIBLE - 5])
        ]
        assert len(posts) >= count, f"the sample's first blocks have {len(posts)} posts"
        return posts[:count]

    @staticmethod
    def vote_request(
        n: int, author: str, permlink: str, voter: str = DEMO_ACCOUNT, weight: int = 10000
    ) -> dict[str, Any]:
        """A request as `steem_worker.actions.Actor` writes it, from worker `tester`."""
        trigger = f"{n:040x}/0"
        return {
            "id": f"tester/{trigger}/0",
            "worker": "tester",
            "account": voter,
            "authority": "posting",
            "operations": [
                ["vote", {"voter": voter, "author": author, "permlink": permlink, "weight": weight}]
            ],
            "trigger": trigger,
            "asked_at": f"2016-07-17T12:00:{n % 60:02d}",
        }

    @staticmethod
    def as_message(request: dict[str, Any], msg_id: str | None = None) -> tuple[str, bytes, dict]:
        headers = {HEADER_MSG_ID: msg_id or request["id"], HEADER_REQUEST_ID: request["id"]}
        return f"steem.tx.request.{request['worker']}", json.dumps(request).encode(), headers

    @staticmethod
    def ask(url: str, requests: list[dict[str, Any]], msg_id: Callable | None = None) -> None:
        settings = WorkerSettings.from_env({"NATS_URL": url})
        messages = [Acting.as_message(r, msg_id(r) if msg_id else None) for r in requests]
        asyncio.run(publish(settings, messages))

    @staticmethod
    def outcomes(url: str) -> list[tuple[str, dict[str, Any]]]:
        """(included or failed, body) of every outcome on STEEM_TX, in order."""
        found = []
        for msg in asyncio.run(stream_messages(url, TX_STREAM_NAME)):
            kind = msg.subject.split(".")[2]
            if kind in ("included", "failed"):
                found.append((kind, json.loads(msg.data)))
        return found

    @staticmethod
    def records(url: str) -> dict[str, dict[str, Any]]:
        """Every record of the signer's bucket, by request id."""

        async def read(js):
            bucket = await js.key_value(TX_BUCKET)
            try:
                keys = await bucket.keys()
            except NoKeysError:
                return {}
            return {key: json.loads((await bucket.get(key)).value) for key in keys}

        return asyncio.run(with_js(WorkerSettings.from_env({"NATS_URL": url}), read))

    @staticmethod
    def chain_transactions(node_url: str) -> dict[str, Any]:
        """GET /transactions of the test chain: what it accepted, and what it refused."""
        with urllib.request.urlopen(node_url + "/transactions", timeout=5) as reply:
            return json.load(reply)

    @staticmethod
    def votes_on_chain(node_url: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Accepted transactions of each voted post, in the order the node took them."""
        found: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for trx in Acting.chain_transactions(node_url)["transactions"]:
            for op in trx["operations"]:
                body = op["value"] if isinstance(op, dict) else op[1]
                found.setdefault((body["author"], body["permlink"]), []).append(trx)
        return found


@pytest.fixture
def acting() -> type[Acting]:
    return Acting


@pytest.fixture
def signer_env(nats_server) -> Callable[..., dict[str, str]]:
    def make(node_url: str, **extra: str) -> dict[str, str]:
        return {
            "NATS_URL": nats_server.url,
            "STEEM_NODES": node_url,
            "STEEM_KEYS": DEMO_WIF,
            "LOG_LEVEL": "DEBUG",
            **extra,
        }

    return make
