"""Synthetic but realistic block archives: ``replay-node generate`` and its Python API.

Deterministic for a given seed and template set (by default the operations of the bundled
sample archive, whose shapes are those of mainnet records); see
:mod:`replay_node.factory` for how blocks are made.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .archive import gc_paused, write_archive
from .chain_config import BLOCK_SECONDS
from .factory import BlockFactory, default_start_time, synthetic_block_id
from .templates import Templates

__all__ = ["generate_archive", "generate_blocks"]


def generate_blocks(
    count: int,
    start: int,
    seed: int = 0,
    posts_per_block: float = 1.0,
    start_time: int | None = None,
    templates: Templates | None = None,
    factory: BlockFactory | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` contiguous synthetic appbase blocks ``start .. start+count-1``."""
    if count < 1 or start < 1:
        raise ValueError("count and start must be >= 1")
    if factory is None:
        factory = BlockFactory(templates or Templates.from_archive(), seed, posts_per_block)
    epoch0 = default_start_time(start) if start_time is None else start_time
    previous = synthetic_block_id(start - 1, factory.seed)
    for i in range(count):
        num = start + i
        epoch = epoch0 + BLOCK_SECONDS * i
        block = factory.block(num, previous, epoch, factory.transactions(num, epoch))
        previous = block["block_id"]
        yield block


def generate_archive(
    path: str | Path,
    count: int,
    start: int,
    seed: int = 0,
    posts_per_block: float = 1.0,
    start_time: int | None = None,
    templates: Templates | None = None,
) -> dict[str, Any]:
    """Write a synthetic archive (gzip if ``path`` ends with ``.gz``); returns a summary
    ``{"blocks", "first", "last", "ops", "new_posts"}``."""
    factory = BlockFactory(templates or Templates.from_archive(), seed, posts_per_block)
    blocks = generate_blocks(count, start, start_time=start_time, factory=factory)
    with gc_paused():
        n = write_archive(blocks, path)
    return {
        "blocks": n,
        "first": start,
        "last": start + n - 1,
        "ops": factory.ops_made,
        "new_posts": factory.posts_made,
    }
