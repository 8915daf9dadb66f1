"""`transfer-watcher`: prints the transfers to or from the watched accounts, one per line."""

import logging
from typing import Any

from steem_worker import Drop, Meta, Worker

from transfer_watcher.settings import WatchSettings
from transfer_watcher.transfers import Transfer

log = logging.getLogger(__name__)

worker = Worker("transfer-watcher", settings=WatchSettings)


@worker.on_start
def say_what_is_watched(settings: WatchSettings) -> None:
    if not settings.accounts:
        log.info("WATCH_ACCOUNTS is not set: printing transfers of every account")
    log.info("watching %s", settings.describe())


@worker.on("transfer")
async def print_transfer(op: dict[str, Any], meta: Meta) -> None:
    try:
        transfer = Transfer.from_op(op)
    except (KeyError, ValueError) as err:
        raise Drop(f"not a transfer ({type(err).__name__}: {err})") from None
    if meta.settings.watches(transfer):
        print(transfer.line(meta.block_num), flush=True)


def main() -> None:
    worker.run()
