"""replay-node."""
