"""`{name}`: prints every vote of at least {prefix}_MIN_WEIGHT percent, one per line.

Change the handler to do what your worker is for; see docs/worker-guide.md.
"""

from typing import Any

from ipc_config import WorkerSettings, setting
from steem_worker import Drop, Meta, Worker


class Settings(WorkerSettings):
    min_weight: float = setting(
        "{prefix}_MIN_WEIGHT", "a vote weight in percent (-100 to 100)", 0.0, ge=-100, le=100
    )


worker = Worker("{name}", settings=Settings)


@worker.on("vote")
async def print_vote(op: dict[str, Any], meta: Meta) -> None:
    try:
        voter, author, permlink, weight = op["voter"], op["author"], op["permlink"], op["weight"]
    except KeyError as err:
        raise Drop(f"no {{err}} in the vote") from None
    if weight / 100 >= meta.settings.min_weight:
        where = f"@{{author}}/{{permlink}} (block {{meta.block_num}})"
        print(f"{{voter}} voted {{weight / 100:g}}% on {{where}}", flush=True)


def main() -> None:
    worker.run()
