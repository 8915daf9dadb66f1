"""The test kit of steem-bot: what a test of a micro-process needs, with real parts."""
