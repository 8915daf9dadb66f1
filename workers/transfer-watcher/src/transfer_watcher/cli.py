"""`transfer-watcher`: a micro-process built on the worker kit."""

import logging
import os
from typing import Any

from ipc_config.settings import log_level, settings_or_exit
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
    with settings_or_exit(PROCESS):
        settings = WatchSettings.from_env(os.environ)
        level = log_level()
    setup_logging(PROCESS, level)
    if not settings.accounts:
        log.info("WATCH_ACCOUNTS is not set: printing transfers of every account")
    log.info("watching %s", settings.describe())
    build_worker(settings).run()
