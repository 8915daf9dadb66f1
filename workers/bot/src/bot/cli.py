"""`bot`: prints the URL of every new post, one per line, on stdout."""

from typing import Any

from ipc_config.chain import is_new_post, post_url
from steem_worker import Drop, Meta, Worker

worker = Worker("bot")


def creates_a_post(op: dict[str, Any]) -> bool:
    try:
        return is_new_post(op)
    except (KeyError, TypeError) as err:
        raise Drop(f"not a comment ({type(err).__name__}: {err})") from None


@worker.on("comment", when=creates_a_post)
async def print_new_post(op: dict[str, Any], meta: Meta) -> None:
    try:
        url = post_url(op["author"], op["permlink"])
    except (KeyError, ValueError) as err:
        raise Drop(str(err)) from None
    print(url, flush=True)


def main() -> None:
    worker.run()
