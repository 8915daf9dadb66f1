"""ipc-config."""
