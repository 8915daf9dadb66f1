"""Comments as a Steem node knows them at its head: ``database_api.find_comments`` and
``condenser_api.get_content``.

steemd's rules (``comment_evaluator`` in ``steem_evaluator.cpp``): the first ``comment``
operation for an author/permlink creates the comment, with ``created = last_update =
active =`` the time of its block; a later one edits it, setting ``last_update`` and
``active`` but never ``created``; a reply sets ``active`` (and counts in ``children``) of
every comment above it; ``delete_comment`` removes it, and a later ``comment`` creates it
anew. The index keeps where each such operation is (block, source, transaction,
operation) and its value as JSON bytes (parsing its whole block for every comment asked
made the node the catch-up benchmark's bottleneck); objects are built when asked for,
from the operations visible at that moment, so a fork or a block not visible yet is
taken into account.

What is not modelled: votes, rshares and payouts (zero), and patch edits: the body of a
comment edited with a diff-match-patch patch stays as it was (steemd applies the patch).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ipc_config.chain import PATCH_PREFIX

from .blocks import dumps
from .chain_config import shift_time
from .shapes import nai_amount, op_parts, value_to_condenser

__all__ = ["ARCHIVE", "INCLUDED", "ChainView", "CommentIndex", "empty_discussion"]

ARCHIVE = 0  # an event of the archive's blocks; fork k's new branch is source k (1-based)
INCLUDED = -1  # an event of a transaction the node accepted and included itself

CASHOUT_WINDOW = 7 * 24 * 3600  # STEEM_CASHOUT_WINDOW_SECONDS
NEVER = "2106-02-07T06:28:15"  # fc::time_point_sec::maximum()
EPOCH = "1970-01-01T00:00:00"  # a time never set
_KINDS = {
    "comment": "comment",
    "delete_comment": "delete",
    "comment_options": "options",
}

_APPBASE_KINDS = frozenset(f"{name}_operation" for name in _KINDS)

# (block index, source, transaction index, operation index, kind, ordinal, value as JSON)
Event = tuple[int, int, int, int, str, int, bytes]


@dataclass
class ChainView:
    """The chain as served at one moment: ``head`` (archive index), which source is served
    at an index (``branch``), and block times."""

    head: int
    branch: Callable[[int], int]
    timestamp: Callable[[int], str]

    def visible(self, i: int, source: int) -> bool:
        return i <= self.head and (source == INCLUDED or source == self.branch(i))


class CommentIndex:
    """Where the ``comment``, ``comment_options`` and ``delete_comment`` operations of every
    author/permlink are, and which comments answer which."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], list[Event]] = {}
        self._children: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self._count = 0
        self._lock = threading.Lock()

    def add_block(self, i: int, block: dict[str, Any], source: int = ARCHIVE) -> None:
        """Index the comment operations of ``block`` (appbase shape) at archive index ``i``."""
        for t, tx in enumerate(block.get("transactions", ())):
            if isinstance(tx, dict):
                self.add_transaction(i, source, t, tx)

    def add_transaction(self, i: int, source: int, t: int, tx: dict[str, Any]) -> None:
        for o, op in enumerate(tx.get("operations", ())):
            # the appbase shape first, without op_parts: most operations are not comments
            name = op.get("type") if type(op) is dict else None
            if name is not None and name not in _APPBASE_KINDS:
                continue
            parts = op_parts(op)
            if parts is None or not isinstance(parts[1], dict):
                continue
            kind = _KINDS.get(parts[0].removesuffix("_operation"))
            value = parts[1]
            author, permlink = value.get("author"), value.get("permlink")
            if kind is None or not (isinstance(author, str) and isinstance(permlink, str)):
                continue
            key = (author, permlink)
            raw = dumps(value)
            with self._lock:
                self._count += 1
                self._events.setdefault(key, []).append((i, source, t, o, kind, self._count, raw))
                parent = (value.get("parent_author"), value.get("parent_permlink"))
                if kind == "comment" and parent[0]:
                    self._children.setdefault(parent, set()).add(key)  # type: ignore[arg-type]

    def find(self, keys: list[tuple[str, str]], view: ChainView) -> list[dict[str, Any]]:
        """``database_api.find_comments``: the comments of ``keys`` that exist at the head
        (in the asked order, missing ones left out), appbase shape."""
        query = _Query(self, view)
        return [c for c in (query.api_object(k) for k in keys) if c is not None]

    def content(self, key: tuple[str, str], view: ChainView) -> dict[str, Any]:
        """``condenser_api.get_content``: the discussion, or the empty one steemd answers."""
        query = _Query(self, view)
        comment = query.api_object(key)
        if comment is None:
            return empty_discussion()
        root = query.state((comment["root_author"], comment["root_permlink"]))
        out = value_to_condenser(comment)
        is_root = comment["parent_author"] == ""
        url = f"/{comment['category']}/@{comment['root_author']}/{comment['root_permlink']}"
        out.update(
            url=url if is_root else f"{url}#{comment['author']}/{comment['permlink']}",
            root_title=root["title"] if root else "",
            pending_payout_value="0.000 SBD",
            total_pending_payout_value="0.000 STEEM",
            active_votes=[],
            replies=[],
            author_reputation=0,
            promoted="0.000 SBD",
            body_length=len(comment["body"]),
            reblogged_by=[],
        )
        return out

    def events(self, key: tuple[str, str]) -> list[Event]:
        with self._lock:
            return sorted(self._events.get(key, ()), key=_chain_order)

    def children(self, key: tuple[str, str]) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(self._children.get(key, ()))


def _chain_order(e: Event) -> tuple[int, int, int, int]:
    # Within a block, the node appends the transactions it included after the archive's.
    return e[0], 1 if e[1] == INCLUDED else 0, e[2], e[3]


class _Query:
    """One request's view of the index; comment states are built once."""

    def __init__(self, index: CommentIndex, view: ChainView):
        self.index = index
        self.view = view
        self._states: dict[tuple[str, str], dict[str, Any] | None] = {}

    def state(self, key: tuple[str, str]) -> dict[str, Any] | None:
        """The comment's own fields at the head, or None if it does not exist there."""
        if key in self._states:
            return self._states[key]
        state: dict[str, Any] | None = None
        for e in self.index.events(key):
            if not self.view.visible(e[0], e[1]):
                continue
            value, kind, when = json.loads(e[6]), e[4], self.view.timestamp(e[0])
            if kind == "delete":
                state = None
            elif kind == "comment" and state is None:
                state = _created(value, when, e[5])
            elif kind == "comment":
                _edit(state, value, when)
            elif kind == "options" and state is not None:
                _options(state, value)
        self._states[key] = state
        return state

    def created(self, key: tuple[str, str]) -> str | None:
        """When the comment was created, or None if it does not exist at the head: what
        `state` says, from the index alone. Counting a post's replies this way reads no
        block (reading each reply's block made find_comments the benchmark's bottleneck)."""
        if key in self._states:
            state = self._states[key]
            return state["created"] if state is not None else None
        created = None
        for e in self.index.events(key):
            if not self.view.visible(e[0], e[1]):
                continue
            if e[4] == "delete":
                created = None
            elif e[4] == "comment" and created is None:
                created = self.view.timestamp(e[0])
        return created

    def api_object(self, key: tuple[str, str]) -> dict[str, Any] | None:
        c = self.state(key)
        if c is None:
            return None
        depth, top, seen = 0, c, {key}
        root = key
        while top["parent_author"]:
            parent_key = (top["parent_author"], top["parent_permlink"])
            depth += 1
            root = parent_key
            parent = self.state(parent_key) if parent_key not in seen else None
            if parent is None:
                break  # the root is older than the archive
            seen.add(parent_key)
            top = parent
        category = top["parent_permlink"] if not top["parent_author"] else _first_tag(c)
        children, active = self._descendants(key, c["active"])
        return {
            "id": c["id"],
            "author": key[0],
            "permlink": key[1],
            "category": category,
            "parent_author": c["parent_author"],
            "parent_permlink": c["parent_permlink"],
            "title": c["title"],
            "body": c["body"],
            "json_metadata": c["json_metadata"],
            "last_update": c["last_update"],
            "created": c["created"],
            "active": active,
            "last_payout": EPOCH,
            "depth": depth,
            "children": children,
            "net_rshares": 0,
            "abs_rshares": 0,
            "vote_rshares": 0,
            "children_abs_rshares": 0,
            "cashout_time": shift_time(c["created"], CASHOUT_WINDOW),
            "max_cashout_time": NEVER,
            "total_vote_weight": 0,
            "reward_weight": 10000,
            "total_payout_value": nai_amount(0, "SBD"),
            "curator_payout_value": nai_amount(0, "SBD"),
            "author_rewards": 0,
            "net_votes": 0,
            "root_author": root[0],
            "root_permlink": root[1],
            "max_accepted_payout": c["max_accepted_payout"],
            "percent_steem_dollars": c["percent_steem_dollars"],
            "allow_replies": True,
            "allow_votes": c["allow_votes"],
            "allow_curation_rewards": c["allow_curation_rewards"],
            "beneficiaries": c["beneficiaries"],
        }

    def _descendants(self, key: tuple[str, str], active: str) -> tuple[int, str]:
        """(replies below ``key`` that exist, latest of ``active`` and their creation)."""
        count, stack, seen = 0, list(self.index.children(key)), {key}
        while stack:
            child = stack.pop()
            if child in seen:
                continue
            seen.add(child)
            created = self.created(child)
            if created is None:
                continue
            count += 1
            active = max(active, created)
            stack.extend(self.index.children(child))
        return count, active


def _created(value: dict[str, Any], when: str, ordinal: int) -> dict[str, Any]:
    return {
        "id": ordinal,
        "parent_author": str(value.get("parent_author", "")),
        "parent_permlink": str(value.get("parent_permlink", "")),
        "title": str(value.get("title", "")),
        "body": str(value.get("body", "")),
        "json_metadata": str(value.get("json_metadata", "")),
        "created": when,
        "last_update": when,
        "active": when,
        "max_accepted_payout": nai_amount(1_000_000_000, "SBD"),
        "percent_steem_dollars": 10000,
        "allow_votes": True,
        "allow_curation_rewards": True,
        "beneficiaries": [],
    }


def _edit(state: dict[str, Any], value: dict[str, Any], when: str) -> None:
    state["last_update"] = state["active"] = when
    # steemd replaces what is not empty; a body that is a patch is applied to the old body,
    # which we do not do (see the module docstring).
    for field in ("title", "json_metadata"):
        if value.get(field):
            state[field] = str(value[field])
    body = value.get("body")
    if body and not str(body).startswith(PATCH_PREFIX):
        state["body"] = str(body)


def _options(state: dict[str, Any], value: dict[str, Any]) -> None:
    if isinstance(value.get("max_accepted_payout"), dict):
        state["max_accepted_payout"] = value["max_accepted_payout"]
    # 6531076.json, recorded from a Hive node, names the field percent_hbd
    percent = value.get("percent_steem_dollars", value.get("percent_hbd"))
    if isinstance(percent, int):
        state["percent_steem_dollars"] = percent
    for field in ("allow_votes", "allow_curation_rewards"):
        if isinstance(value.get(field), bool):
            state[field] = value[field]
    for ext in value.get("extensions") or ():
        if isinstance(ext, dict) and ext.get("type") == "comment_payout_beneficiaries":
            state["beneficiaries"] = list(ext["value"].get("beneficiaries", []))


def _first_tag(comment: dict[str, Any]) -> str:
    """A reply whose root is older than the archive: its first tag stands for the root's
    category (front ends tag a reply with it)."""
    try:
        tags = json.loads(comment["json_metadata"]).get("tags")
        return str(tags[0]) if tags else comment["parent_permlink"]
    except (ValueError, AttributeError, TypeError, IndexError):
        return comment["parent_permlink"]


def empty_discussion() -> dict[str, Any]:
    """What ``condenser_api.get_content`` answers for a comment that does not exist: a
    default ``discussion`` (times at 0, assets as the default legacy asset, 0 STEEM)."""
    zero = "0.000 STEEM"
    return {
        "id": 0,
        "author": "",
        "permlink": "",
        "category": "",
        "parent_author": "",
        "parent_permlink": "",
        "title": "",
        "body": "",
        "json_metadata": "",
        "last_update": EPOCH,
        "created": EPOCH,
        "active": EPOCH,
        "last_payout": EPOCH,
        "depth": 0,
        "children": 0,
        "net_rshares": 0,
        "abs_rshares": 0,
        "vote_rshares": 0,
        "children_abs_rshares": 0,
        "cashout_time": EPOCH,
        "max_cashout_time": EPOCH,
        "total_vote_weight": 0,
        "reward_weight": 0,
        "total_payout_value": zero,
        "curator_payout_value": zero,
        "author_rewards": 0,
        "net_votes": 0,
        "root_author": "",
        "root_permlink": "",
        "max_accepted_payout": zero,
        "percent_steem_dollars": 0,
        "allow_replies": False,
        "allow_votes": False,
        "allow_curation_rewards": False,
        "beneficiaries": [],
        "url": "",
        "root_title": "",
        "pending_payout_value": zero,
        "total_pending_payout_value": zero,
        "active_votes": [],
        "replies": [],
        "author_reputation": 0,
        "promoted": zero,
        "body_length": 0,
        "reblogged_by": [],
    }
