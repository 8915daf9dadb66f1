"""nats-local: the local NATS server of the Procfile's `nats` line (see launcher.py)."""
