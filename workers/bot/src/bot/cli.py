"""`bot`: prints the URL of every new post, once, one per line, on stdout."""

from typing import Any

from ipc_config.chain import post_url
from steem_worker import Drop, Meta, Worker

worker = Worker("bot")


@worker.on_new_post  # not a reply, not an edit: as the chain tells
async def print_new_post(op: dict[str, Any], meta: Meta) -> None:
    try:
        url = post_url(op["author"], op["permlink"])
    except (KeyError, ValueError) as err:
        raise Drop(str(err)) from None
    print(url, flush=True)


def main() -> None:
    worker.run()
