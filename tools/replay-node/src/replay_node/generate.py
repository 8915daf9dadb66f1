"""Synthetic but realistic block archives: ``replay-node generate`` and its Python API.

Deterministic for a given seed and template set (by default the operations of the bundled
sample archive, whose shapes are those of mainnet records); see
:mod:`replay_node.factory` for how blocks are made and :mod:`replay_node.virtual_ops`
for their virtual operations.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .archive import gc_paused, write_archive
from .blocks import VIRTUAL_OPS
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
    **options: Any,
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` contiguous synthetic appbase blocks ``start .. start+count-1``.

    ``options`` are :class:`BlockFactory` options: ``virtual_ops`` (each block then
    carries its virtual operations under the key ``virtual_ops``, as an archive record
    does; default off, so that blocks are as a node serves them), ``payout_blocks``,
    ``edits_per_block``, ``whole_body_edits``, ``beneficiary_share``.
    """
    if count < 1 or start < 1:
        raise ValueError("count and start must be >= 1")
    if factory is None:
        t = templates or Templates.from_archive()
        factory = BlockFactory(t, seed, posts_per_block, **options)
    epoch0 = default_start_time(start) if start_time is None else start_time
    previous = synthetic_block_id(start - 1, factory.seed)
    for i in range(count):
        num = start + i
        epoch = epoch0 + BLOCK_SECONDS * i
        block = factory.block(num, previous, epoch, factory.transactions(num, epoch))
        if factory.vops is not None:
            block[VIRTUAL_OPS] = factory.vops.for_block(num, block["witness"])
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
    virtual_ops: bool = True,
    payout_blocks: int = 100,
    edits_per_block: float = 0.0,
    whole_body_edits: float = 0.0,
    beneficiary_share: float = 0.1,
) -> dict[str, Any]:
    """Write a synthetic archive (gzip if ``path`` ends with ``.gz``), with virtual
    operations unless ``virtual_ops`` is false; returns a summary ``{"blocks", "first",
    "last", "ops", "new_posts", "edits", "whole_body_edits", "virtual_ops"}``.

    Posts are paid out ``payout_blocks`` after they are made; ``edits_per_block`` edits
    of earlier posts are added per block on average, a share ``whole_body_edits`` of them
    resending the whole body instead of a patch; a share ``beneficiary_share`` of posts
    names beneficiaries (``comment_options``)."""
    factory = BlockFactory(
        templates or Templates.from_archive(),
        seed,
        posts_per_block,
        virtual_ops=virtual_ops,
        payout_blocks=payout_blocks,
        edits_per_block=edits_per_block,
        whole_body_edits=whole_body_edits,
        beneficiary_share=beneficiary_share,
    )
    blocks = generate_blocks(count, start, start_time=start_time, factory=factory)
    with gc_paused():
        n = write_archive(blocks, path)
    return {
        "blocks": n,
        "first": start,
        "last": start + n - 1,
        "ops": factory.ops_made,
        "new_posts": factory.posts_made,
        "edits": factory.editor.made,
        "whole_body_edits": factory.editor.whole_bodies,
        "virtual_ops": factory.vops.made if factory.vops is not None else 0,
    }
