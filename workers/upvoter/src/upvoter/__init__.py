"""The upvoter: votes the new posts of chosen authors through the signer (see cli.py)."""
