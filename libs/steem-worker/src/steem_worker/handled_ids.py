"""The ids of the messages a worker handled, in memory and in a file that outlives it.

    handled = HandledIds(10_000, Path(".data/workers/bot.1.handled"), epoch="consumer ...")
    if msg_id in handled: ...   # the server gave it again: acknowledge, do not handle
    handled.add(msg_id)          # after the handler returned

Used by the delivery engine (`steem_worker.delivery`), which says when it matters.
"""

import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)

_EPOCH_PREFIX = "# epoch "


class HandledIds:
    """The ids of the last `size` messages handled, kept in a file when one is given.

    The file outlives the process: a worker restarted after a crash still knows what it
    handled, which matters when nats-server was killed too and forgot our last acks. The
    file starts with an epoch line (the consumer's creation time): a consumer made anew,
    as with a new stream, means a new history, and the old ids are dropped. Lines
    are written unsynced: the operating system keeps them when the process is killed.
    """

    def __init__(self, size: int, file: Path | None = None, epoch: str = "") -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._file = file
        self._header = f"{_EPOCH_PREFIX}{epoch}\n"
        self._out: TextIO | None = None
        self._appended = 0
        if file is not None:
            self._guard(self._load)

    def add(self, msg_id: str) -> None:
        self._ids[msg_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        if self._out is not None:
            self._guard(self._append, msg_id)

    def __contains__(self, msg_id: str) -> bool:
        return msg_id in self._ids

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def _load(self) -> None:
        assert self._file is not None
        if self._file.exists():
            lines = self._file.read_text().splitlines(keepends=True)
            if lines and lines[0] == self._header:
                for line in lines[1:][-self._size :]:
                    self._ids[line.rstrip("\n")] = None
                log.info(
                    "remembering %d messages handled before, from %s", len(self._ids), self._file
                )
            else:
                log.info("%s is from another stream or consumer; starting afresh", self._file)
        self._rewrite()

    def _append(self, msg_id: str) -> None:
        assert self._out is not None
        self._out.write(msg_id + "\n")
        self._out.flush()
        self._appended += 1
        if self._appended >= self._size:
            self._rewrite()

    def _rewrite(self) -> None:
        """The header and the ids in memory, replacing the file in one step."""
        assert self._file is not None
        self.close()
        self._file.parent.mkdir(parents=True, exist_ok=True)
        fresh = self._file.with_name(self._file.name + ".new")
        fresh.write_text(self._header + "".join(f"{msg_id}\n" for msg_id in self._ids))
        os.replace(fresh, self._file)
        self._out = self._file.open("a")
        self._appended = 0

    def _guard(self, action: Callable[..., None], *args: str) -> None:
        """Run a file action; if the file fails, say so once and go on in memory only."""
        try:
            action(*args)
        except OSError as err:
            log.warning(
                "cannot keep handled message ids in %s (%s); in memory only", self._file, err
            )
            self.close()
            self._file = None
