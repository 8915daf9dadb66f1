"""The bot: prints the URL of every new Steem post, one per line, on stdout."""
