"""Acting on the chain from a handler: ask, and the signer does it exactly once.

    from steem_worker.actions import vote

    @worker.on("comment", when=creates_a_post)
    async def upvote(op: dict, meta: Meta) -> None:
        await meta.act(vote("me", op["author"], op["permlink"], percent=100))

    @worker.on_included
    async def voted(outcome: dict, meta: Meta) -> None:
        print(f"voted in block {outcome['block_num']}")

`meta.act(...)` stores the request in JetStream (`steem.tx.request.<worker>`) before it
returns. Its id comes from what triggered it: the worker, the transaction id and
operation index of the message in hand (a fork re-includes a transaction in a block with
another id, never under another transaction id), and the action's index within the
handler. So a handler run again after a crash, a redelivery or a fork asks for the same
requests, and the signer, which remembers every id it was given, never does one twice.
The signer alone holds the keys: see docs/acting.md.
"""

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ipc_config import HEADER_MSG_ID, HEADER_REQUEST_ID, tx_request_subject
from ipc_config.chain import ACCOUNT_NAME

POSTING, ACTIVE = "posting", "active"
_AMOUNT = re.compile(r"^\d+\.\d{3} (STEEM|SBD)$")
_PERMLINK = re.compile(r"^[a-z0-9-]{1,256}$")


@dataclass(frozen=True)
class Action:
    """One operation for the signer: condenser form, the account and authority it needs."""

    op_type: str
    body: dict[str, Any]
    account: str
    authority: str = POSTING

    @property
    def operation(self) -> list[Any]:
        return [self.op_type, self.body]


def vote(voter: str, author: str, permlink: str, percent: float = 100.0) -> Action:
    """`voter` votes `percent` (-100 to 100; negative: a downvote) on @author/permlink."""
    _accounts(voter, author)
    _permlink(permlink)
    if not -100 <= percent <= 100:
        raise ValueError(f"vote weight {percent}% is not between -100 and 100")
    body = {"voter": voter, "author": author, "permlink": permlink, "weight": round(percent * 100)}
    return Action("vote", body, voter)


def comment(
    author: str,
    permlink: str,
    body: str,
    *,
    parent_author: str = "",
    parent_permlink: str,
    title: str = "",
    json_metadata: dict[str, Any] | None = None,
) -> Action:
    """A post (`parent_author` empty, `parent_permlink` its main tag) or a reply."""
    _accounts(author, *([parent_author] if parent_author else []))
    _permlink(permlink)
    _permlink(parent_permlink)
    value = {
        "parent_author": parent_author,
        "parent_permlink": parent_permlink,
        "author": author,
        "permlink": permlink,
        "title": title,
        "body": body,
        "json_metadata": json.dumps(json_metadata or {}),
    }
    return Action("comment", value, author)


def comment_options(
    author: str,
    permlink: str,
    *,
    max_accepted_payout: str = "1000000.000 SBD",
    percent_steem_dollars: int = 10000,
    allow_votes: bool = True,
    allow_curation_rewards: bool = True,
) -> Action:
    _accounts(author)
    _permlink(permlink)
    _amount(max_accepted_payout)
    value = {
        "author": author,
        "permlink": permlink,
        "max_accepted_payout": max_accepted_payout,
        "percent_steem_dollars": percent_steem_dollars,
        "allow_votes": allow_votes,
        "allow_curation_rewards": allow_curation_rewards,
        "extensions": [],
    }
    return Action("comment_options", value, author)


def transfer(sender: str, receiver: str, amount: str, memo: str = "") -> Action:
    """`amount` as the chain writes it: `"1.000 STEEM"` or `"0.500 SBD"`."""
    _accounts(sender, receiver)
    _amount(amount)
    value = {"from": sender, "to": receiver, "amount": amount, "memo": memo}
    return Action("transfer", value, sender, ACTIVE)


def custom_json(
    id: str,  # noqa: A002 - the operation's own field name
    data: Any,
    *,
    required_posting_auths: tuple[str, ...] = (),
    required_auths: tuple[str, ...] = (),
) -> Action:
    """`data` is sent as JSON text; signed with the first account's posting key, or its
    active key when only `required_auths` are given."""
    accounts = [*required_posting_auths, *required_auths]
    if not accounts:
        raise ValueError("custom_json needs required_posting_auths or required_auths")
    _accounts(*accounts)
    value = {
        "required_auths": list(required_auths),
        "required_posting_auths": list(required_posting_auths),
        "id": id,
        "json": json.dumps(data),
    }
    authority = POSTING if required_posting_auths else ACTIVE
    return Action("custom_json", value, accounts[0], authority)


def _accounts(*names: str) -> None:
    for name in names:
        if not isinstance(name, str) or not ACCOUNT_NAME.match(name):
            raise ValueError(f"{name!r} is not a Steem account name")


def _permlink(permlink: str) -> None:
    if not isinstance(permlink, str) or not _PERMLINK.match(permlink):
        raise ValueError(f"{permlink!r} is not a permlink (a-z, 0-9 and '-', 1 to 256)")


def _amount(amount: str) -> None:
    try:
        valid = bool(_AMOUNT.match(amount)) and Decimal(amount.split()[0]) >= 0
    except (InvalidOperation, AttributeError, TypeError):
        valid = False
    if not valid:
        raise ValueError(f"{amount!r} is not an amount like '1.000 STEEM' or '0.500 SBD'")


# -- asking ------------------------------------------------------------------------------

Publish = Callable[[str, bytes, dict[str, str]], Awaitable[None]]


@dataclass
class Actor:
    """The requests of one handled message, numbered in the order the handler asks."""

    worker: str
    trigger: str
    timestamp: str  # the trigger's block time: when the request was made, in chain time
    publish: Publish
    asked: list[str] = field(default_factory=list)

    async def __call__(self, action: Action) -> str:
        """Store the request in JetStream; returns its id."""
        if not isinstance(action, Action):
            raise TypeError(f"act() takes an Action (vote(...), transfer(...)), not {action!r}")
        request_id = f"{self.worker}/{self.trigger}/{len(self.asked)}"
        request = {
            "id": request_id,
            "worker": self.worker,
            "account": action.account,
            "authority": action.authority,
            "operations": [action.operation],
            "trigger": self.trigger,
            "asked_at": self.timestamp,
        }
        headers = {HEADER_MSG_ID: request_id, HEADER_REQUEST_ID: request_id}
        await self.publish(tx_request_subject(self.worker), json.dumps(request).encode(), headers)
        self.asked.append(request_id)
        return request_id
