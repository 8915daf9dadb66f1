"""What a handler can say about a message besides returning (which means: done).

    from steem_worker import Drop, Retry

    @worker.on("transfer")
    async def pay_back(op, meta):
        if "amount" not in op:
            raise Drop("no amount")            # bad data: logged, acknowledged, never retried
        if not await price_known():
            raise Retry(30, "no price yet")    # handed again in 30 s

Any other exception is retried after the worker's `retry_delay`. A message that failed
`max_deliver` times (retries included) is kept as a dead letter on `steem.dead.<worker>`
with its error, and `steem-dead replay <worker>` hands it back: nothing is dropped
without a copy, except what a handler drops on purpose.
"""


class Drop(Exception):
    """The message's data cannot be used: log the reason, acknowledge, never retry."""


class Retry(Exception):
    """Hand the message again after `delay` seconds; it counts as an attempt."""

    def __init__(self, delay: float = 5.0, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay:g} s")
        self.delay = delay
        self.reason = reason
