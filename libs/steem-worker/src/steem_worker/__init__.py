"""steem-worker."""
