"""new-worker: scaffolds a steem-bot worker in the workspace."""
