"""The broadcaster: reads every Steem block with beem and publishes its operations to NATS."""
