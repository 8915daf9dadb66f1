"""`broadcaster`: streams every Steem operation into NATS JetStream."""

import asyncio
import logging
import os
import sys

from ipc_config import ChainSettings, NatsSettings, StreamSettings
from ipc_config.settings import exit_config_error, log_level, settings_or_exit
from steem_worker.connection import NatsRefused
from steem_worker.logs import setup_logging

from broadcaster.app import PROCESS, run
from broadcaster.lease import LeaseLost


def main() -> None:
    with settings_or_exit(PROCESS):
        level = log_level()
        chain = ChainSettings.from_env(os.environ)
        nats = NatsSettings.from_env(os.environ)
        stream = StreamSettings.from_env(os.environ)
    setup_logging(PROCESS, level)
    try:
        asyncio.run(run(chain, nats, stream))
    except NatsRefused as err:
        exit_config_error(PROCESS, err)
    except LeaseLost as err:
        # Exit so that the restart loop starts us again, as the standby.
        logging.getLogger(PROCESS).error("%s is broadcasting now; stepping down", err)
        sys.exit(1)
    sys.exit(0)
