"""The plumbing every steem-bot micro-process repeats, so a new one is a few lines."""

from steem_worker.worker import OpMeta, Worker

__all__ = ["OpMeta", "Worker"]
