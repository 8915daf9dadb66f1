# {name}

A steem-bot worker made with `uv run new-worker {name}`: it prints every vote of at least
`{prefix}_MIN_WEIGHT` percent (default 0), one line each. Its code is
[`src/{package}/cli.py`](src/{package}/cli.py): a settings class, one handler.

```sh
uv run pytest workers/{name}                # its unit and end-to-end tests
uv run honcho start                         # the app, with its Procfile line
uv run honcho -f Procfile.replay start      # offline, against the replay node
```

How to write a worker: [docs/worker-guide.md](../../docs/worker-guide.md).
