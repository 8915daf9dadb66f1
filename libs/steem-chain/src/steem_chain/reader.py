"""Chain reads, one call at a time, with failover: the tip, a few blocks, a post, accounts.

Every read is asked of the preferred node; a failure is logged with the node and the
reason and the same read goes to the next node; when every node has failed it, we wait
(1 s, doubling to 30 s) and go round again. A read is never answered with a guess: it
returns what a node said, or keeps trying until the process stops (`Stopped`). Only a
request no node can answer (bad parameters) is given up at once, as `RequestRefused`.

    reader = ChainReader(NodePool(["https://api.steemit.com"], timeout=10))
    post = reader.post("alice", "hello-world")        # None if there is no such post
"""

import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ipc_config.backoff import Backoff
from ipc_config.chain import BLOCK_INTERVAL

from steem_chain.blocks import Block
from steem_chain.node import Tip
from steem_chain.pool import Node, NodePool
from steem_chain.reasons import NodeError, Stopped, Trouble, classify

T = TypeVar("T")


class RequestRefused(ValueError):
    """The nodes refuse the request itself (bad parameters): asking again will not help."""


class ChainReader:
    """Read-only calls on a NodePool, each with the pool's failover."""

    def __init__(self, pool: NodePool) -> None:
        self.pool = pool

    def call(
        self, action: Callable[[Node], T], stop: threading.Event | None = None
    ) -> tuple[T, Node]:
        """`action(node)` on the preferred node, then the others, until one succeeds."""
        backoff = Backoff(*_CALL_BACKOFF)
        tried: set[Node] = set()
        while True:
            node = self.pool.take(tried, stop)
            if node is None:  # every node failed this call
                if not self.pool.in_outage:  # else the pool's rounds set the pace
                    self.pool.wait(backoff.next(), stop)
                tried.clear()
                continue
            try:
                result = action(node)
            except Stopped:
                self.pool.release(node)
                raise
            except Exception as err:  # each means "try another node", with its reason
                failure = classify(err, node.client.timeout)
                self.pool.failed(node, failure)
                if failure.trouble is Trouble.REFUSED:
                    raise RequestRefused(f"{node.name}: {failure.reason}") from None
                tried.add(node)
                continue
            except BaseException:
                self.pool.release(node)
                raise
            self.pool.succeeded(node)
            return result, node

    def tip(self, stop: threading.Event | None = None) -> Tip:
        """Head and last irreversible block; the answering node becomes the one we follow."""
        tip, node = self.call(lambda n: n.client.tip(), stop)
        self.pool.saw_tip(node, tip)
        self.pool.primary = node
        return tip

    def blocks(self, first: int, last: int, stop: threading.Event | None = None) -> list[Block]:
        return self.call(lambda n: n.client.blocks(first, last), stop)[0]

    def dynamic_global_properties(self, stop: threading.Event | None = None) -> dict[str, Any]:
        return self._ask("database_api.get_dynamic_global_properties", {}, _a_dict, stop)

    def post(
        self, author: str, permlink: str, stop: threading.Event | None = None
    ) -> dict[str, Any] | None:
        """`condenser_api.get_content`: the post or comment with its votes and payout, or
        None when the chain has no such post (steemd answers an empty one)."""
        content = self._ask("condenser_api.get_content", [author, permlink], _a_dict, stop)
        return content if content.get("author") else None

    def find_comments(
        self, keys: Iterable[tuple[str, str]], stop: threading.Event | None = None
    ) -> dict[tuple[str, str], dict[str, Any] | None]:
        """`database_api.find_comments` for (author, permlink) pairs in one call (steemd
        takes up to 1,000): each found comment, None for those the chain does not have."""
        wanted = list(dict.fromkeys((a, p) for a, p in keys))
        params = {"comments": [list(key) for key in wanted]}
        found = self._ask("database_api.find_comments", params, _listed("comments"), stop)
        by_key = {(c.get("author"), c.get("permlink")): c for c in found}
        return {key: by_key.get(key) for key in wanted}

    def accounts(
        self, names: Iterable[str], stop: threading.Event | None = None
    ) -> dict[str, dict[str, Any] | None]:
        """`condenser_api.get_accounts` in one call: each account, None for unknown names."""
        wanted = list(dict.fromkeys(names))
        found = self._ask("condenser_api.get_accounts", [wanted], _listed(None), stop)
        by_name = {a.get("name"): a for a in found}
        return {name: by_name.get(name) for name in wanted}

    def account(self, name: str, stop: threading.Event | None = None) -> dict[str, Any] | None:
        return self.accounts([name], stop)[name]

    def _ask(
        self, method: str, params: Any, check: Callable[[Any], T], stop: threading.Event | None
    ) -> T:
        """One call, whose answer `check` turns into the result or refuses (NodeError)."""
        return self.call(lambda node: check(node.client.call(method, params)), stop)[0]


_CALL_BACKOFF = (1.0, 10 * BLOCK_INTERVAL)


def _a_dict(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise NodeError(f"expected an object, got {str(answer)[:80]}")
    return answer


def _listed(key: str | None) -> Callable[[Any], list[dict[str, Any]]]:
    """The list of objects an answer holds (under `key`, or the answer itself)."""

    def check(answer: Any) -> list[dict[str, Any]]:
        items = answer.get(key) if key is not None and isinstance(answer, dict) else answer
        if not isinstance(items, list):
            raise NodeError(f"expected a list{f' of {key}' if key else ''}, got {str(answer)[:80]}")
        return [item for item in items if isinstance(item, dict)]

    return check
