"""restart-loop."""
