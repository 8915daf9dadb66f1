"""The blocks a node serves, kept as pre-serialised JSON so that answers are assembled
from bytes instead of being encoded for every request."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import archive as _archive
from .blocks import block_num, dumps, normalize_block
from .shapes import to_condenser

__all__ = ["BlockStore", "both_shapes"]


def both_shapes(block: dict[str, Any]) -> tuple[bytes, bytes]:
    """Served bytes of an appbase block: (block_api shape, condenser_api shape)."""
    return dumps(block), dumps(to_condenser(block))


class BlockStore:
    """Contiguous blocks kept as pre-serialised JSON bytes, one entry per shape."""

    def __init__(self, source: str = "<memory>"):
        self.source = source
        self.first = 0
        self.previous = "0" * 40  # previous of the first block
        self.appbase: list[bytes] = []  # block_api shape
        self.condenser: list[bytes] = []  # condenser_api shape (with tx ids)
        self.ids: list[str] = []
        self.timestamps: list[str] = []
        self.witnesses: list[str] = []

    def __len__(self) -> int:
        return len(self.appbase)

    @property
    def last(self) -> int:
        return self.first + len(self.appbase) - 1

    def _add(self, block: dict[str, Any], line: bytes | None) -> None:
        if not self.appbase:
            self.first = block_num(block)
            self.previous = block["previous"]
        self.appbase.append(line if line is not None else dumps(block))
        self.condenser.append(dumps(to_condenser(block)))
        self.ids.append(block["block_id"])
        self.timestamps.append(block["timestamp"])
        self.witnesses.append(block.get("witness", ""))

    @classmethod
    def from_archive(cls, path: str | Path | None = None) -> BlockStore:
        """Load and check an archive (raises :class:`replay_node.archive.ArchiveError`)."""
        path = Path(path) if path is not None else _archive.sample_archive_path()
        store = cls(str(path))
        with _archive.gc_paused():
            for block, line in _archive.iter_archive_records(path):
                store._add(block, line)
        return store

    @classmethod
    def from_blocks(cls, blocks: Iterable[dict[str, Any]], source: str = "<memory>") -> BlockStore:
        """From already normalised, contiguous blocks (e.g. :func:`load_archive` output)."""
        store = cls(source)
        prev_id = None
        for b in blocks:
            block = normalize_block(b)
            if prev_id is not None and block["previous"] != prev_id:
                raise _archive.ArchiveError(source, len(store) + 1, "blocks are not linked")
            store._add(block, None)
            prev_id = block["block_id"]
        if not store.appbase:
            raise _archive.ArchiveError(source, None, "no blocks")
        return store

    def block(self, index: int) -> dict[str, Any]:
        return json.loads(self.appbase[index])
