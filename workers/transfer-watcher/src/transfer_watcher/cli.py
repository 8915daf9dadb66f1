"""`transfer-watcher`: a micro-process built on the worker kit."""

import logging
from typing import Any

from ipc_config.settings import LogSettings, load_settings
from steem_worker import OpMeta, Worker
from steem_worker.logs import setup_logging

from transfer_watcher.settings import WatchSettings
from transfer_watcher.transfers import Transfer

PROCESS = "transfer-watcher"
log = logging.getLogger(PROCESS)


def build_worker(settings: WatchSettings) -> Worker:
    worker = Worker(PROCESS)

    @worker.on("transfer")
    async def print_transfer(op: dict[str, Any], meta: OpMeta) -> None:
        transfer = Transfer.from_op(op)
        if settings.watches(transfer):
            print(transfer.line(meta.block_num), flush=True)

    return worker


def main() -> None:
    settings = load_settings(WatchSettings, PROCESS)
    setup_logging(PROCESS, load_settings(LogSettings, PROCESS).log_level)
    if not settings.accounts:
        log.info("WATCH_ACCOUNTS is not set: printing transfers of every account")
    log.info("watching %s", settings.describe())
    build_worker(settings).run()
