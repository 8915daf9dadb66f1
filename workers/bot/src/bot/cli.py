"""`bot`: a micro-process built on the worker kit."""

from typing import Any

from steem_worker import OpMeta, Worker

from bot.posts import is_new_post, post_url

worker = Worker("bot")


@worker.on("comment", when=is_new_post)
async def print_new_post(op: dict[str, Any], meta: OpMeta) -> None:
    print(post_url(op), flush=True)


def main() -> None:
    worker.run()
