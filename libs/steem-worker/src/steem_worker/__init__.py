"""The worker kit: what every steem-bot micro-process would otherwise repeat.

    from steem_worker import Meta, Worker

    worker = Worker("downvotes")

    @worker.on("vote")
    async def print_downvote(op: dict, meta: Meta) -> None:
        if op["weight"] < 0:
            print(op["voter"], meta.block_num, flush=True)

    worker.run()

`Worker` consumes; `run_service` runs any other long-lived process (the broadcaster) with
the same life: settings, logging, NATS, streams, status reports, a clean stop.
"""

from steem_worker.meta import Meta
from steem_worker.outcomes import Drop, Retry
from steem_worker.service import Idle, Service, run_service
from steem_worker.worker import Worker

__all__ = ["Drop", "Idle", "Meta", "Retry", "Service", "Worker", "run_service"]
