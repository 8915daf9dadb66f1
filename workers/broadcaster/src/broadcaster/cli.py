"""`broadcaster`: streams every Steem operation into NATS JetStream."""

import asyncio
import logging
import sys

from ipc_config.settings import ChainSettings as _C
from ipc_config.settings import ServiceSettings, exit_config_error, load_settings
from steem_worker.connection import NatsRefused
from steem_worker.logs import setup_logging

from broadcaster.app import PROCESS, run
from broadcaster.lease import LeaseLost


class BroadcasterSettings(ServiceSettings, _C):
    pass


def main() -> None:
    settings = load_settings(BroadcasterSettings, PROCESS)
    chain = nats = stream = settings
    setup_logging(PROCESS, settings.log_level)
    try:
        asyncio.run(run(chain, nats, stream))
    except NatsRefused as err:
        exit_config_error(PROCESS, err)
    except LeaseLost as err:
        # Exit so that the restart loop starts us again, as the standby.
        logging.getLogger(PROCESS).error("%s is broadcasting now; stepping down", err)
        sys.exit(1)
    sys.exit(0)
