"""`upvoter`: votes every new post of UPVOTE_AUTHORS as UPVOTE_ACCOUNT, through the signer,
and prints `voted @author/permlink in block N` once a block holds the vote."""

import logging
from typing import Any

from steem_worker import Drop, Idle, Meta, Worker
from steem_worker.actions import vote

from upvoter.settings import UpvoteSettings

log = logging.getLogger(__name__)

# A vote asked is a vote owed: retried through NATS outages rather than given up.
worker = Worker("upvoter", settings=UpvoteSettings, max_deliver=50, retry_delay=1.0)


@worker.on_start
def account_or_idle(settings: UpvoteSettings) -> None:
    if settings.account is None:
        raise Idle("UPVOTE_ACCOUNT is not set: voting on nothing")
    log.info("%s", settings.describe())


@worker.on_new_post  # not a reply, not an edit: as the chain tells
async def upvote(post: dict[str, Any], meta: Meta) -> None:
    settings: UpvoteSettings = meta.settings
    if not settings.wants(post.get("author")):
        return
    try:
        action = vote(settings.account, post["author"], post["permlink"], settings.weight)
    except (KeyError, ValueError) as err:  # a permlink the chain took but a vote cannot name
        raise Drop(f"cannot vote on it ({err})") from None
    await meta.act(action)


@worker.on_included
async def voted(outcome: dict[str, Any], meta: Meta) -> None:
    for _, body in outcome["operations"]:
        print(
            f"voted @{body['author']}/{body['permlink']} in block {outcome['block_num']}",
            flush=True,
        )


@worker.on_failed
async def not_voted(outcome: dict[str, Any], meta: Meta) -> None:
    for _, body in outcome["operations"]:
        log.warning(
            "vote on @%s/%s failed: %s", body["author"], body["permlink"], outcome["reason"]
        )


def main() -> None:
    worker.run()
