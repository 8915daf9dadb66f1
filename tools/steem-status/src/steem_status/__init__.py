"""`steem-status`: what the running system is doing, read from NATS."""
