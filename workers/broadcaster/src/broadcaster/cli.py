"""`broadcaster`: streams every Steem operation into NATS JetStream."""

from steem_worker import run_service

from broadcaster.app import PROCESS, BroadcasterSettings, broadcast


def main() -> None:
    # Reports "starting" at once, so that steem-status shows a standby broadcaster too.
    run_service(PROCESS, BroadcasterSettings, broadcast, state="starting")
