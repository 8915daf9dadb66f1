"""The transfer watcher: prints Steem transfers of the watched accounts, one per line."""
