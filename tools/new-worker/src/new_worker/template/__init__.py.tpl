"""{name}: a steem-bot worker."""
