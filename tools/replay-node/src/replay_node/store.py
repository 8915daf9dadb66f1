"""The archive store: the blocks a node serves and their virtual operations, kept as
pre-serialised JSON so that answers are assembled from bytes instead of being encoded for
every request, and the index of their comments."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import archive as _archive
from .blocks import block_num, dumps, normalize_record, normalize_virtual_ops, signing_key_for
from .chain_config import BLOCK_SECONDS, shift_time
from .comments import ARCHIVE, CommentIndex
from .shapes import nai_amount, op_to_condenser, to_condenser

__all__ = ["BlockStore", "both_shapes", "ops_entries"]


def both_shapes(block: dict[str, Any]) -> tuple[bytes, bytes]:
    """Served bytes of an appbase block: (block_api shape, condenser_api shape)."""
    return dumps(block), dumps(to_condenser(block))


def ops_entries(
    vops: list[dict[str, Any]], num: int, timestamp: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Virtual operations as ``get_ops_in_block`` lists them, in steemd's field order:
    (account_history_api entries, condenser_api entries)."""
    appbase, condenser = [], []
    for v in vops:
        entry = {
            "trx_id": v["trx_id"],
            "block": num,
            "trx_in_block": v["trx_in_block"],
            "op_in_trx": v["op_in_trx"],
            "virtual_op": v["virtual_op"],
            "timestamp": timestamp,
            "op": v["op"],
        }
        appbase.append(entry)
        condenser.append(dict(entry, op=op_to_condenser(v["op"])))
    return appbase, condenser


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
        # virtual operations of each block, JSON arrays of get_ops_in_block entries
        self.vops_appbase: list[bytes] = []
        self.vops_condenser: list[bytes] = []
        self.tx_ids: list[tuple[str, ...]] = []
        self.comments = CommentIndex()

    def __len__(self) -> int:
        return len(self.appbase)

    @property
    def last(self) -> int:
        return self.first + len(self.appbase) - 1

    def add(
        self, block: dict[str, Any], line: bytes | None = None, vops: list[dict[str, Any]] = ()
    ) -> None:
        """Append a normalised block (``line``: its JSON if already serialised) and its
        normalised virtual operations."""
        if not self.appbase:
            self.first = block_num(block)
            self.previous = block["previous"]
        self.comments.add_block(len(self.appbase), block, ARCHIVE)
        self.appbase.append(line if line is not None else dumps(block))
        self.condenser.append(dumps(to_condenser(block)))
        self.ids.append(block["block_id"])
        self.timestamps.append(block["timestamp"])
        self.witnesses.append(block.get("witness", ""))
        self.tx_ids.append(tuple(block["transaction_ids"]))
        appbase, condenser = ops_entries(list(vops), block_num(block), block["timestamp"])
        self.vops_appbase.append(dumps(appbase))
        self.vops_condenser.append(dumps(condenser))

    @classmethod
    def from_archive(cls, path: str | Path | None = None) -> BlockStore:
        """Load and check an archive (raises :class:`replay_node.archive.ArchiveError`)."""
        path = Path(path) if path is not None else _archive.sample_archive_path()
        store = cls(str(path))
        with _archive.gc_paused():
            for block, line, vops in _archive.iter_archive_records(path):
                store.add(block, line, vops)
        return store

    @classmethod
    def from_blocks(cls, blocks: Iterable[dict[str, Any]], source: str = "<memory>") -> BlockStore:
        """From contiguous blocks (e.g. :func:`load_archive` output), each with its virtual
        operations under ``virtual_ops`` if it has any."""
        store = cls(source)
        prev_id = None
        for b in blocks:
            block, _, vops = normalize_record(b)
            if prev_id is not None and block["previous"] != prev_id:
                raise _archive.ArchiveError(source, len(store) + 1, "blocks are not linked")
            store.add(block, None, vops)
            prev_id = block["block_id"]
        if not store.appbase:
            raise _archive.ArchiveError(source, None, "no blocks")
        return store

    def block(self, index: int) -> dict[str, Any]:
        return json.loads(self.appbase[index])

    def produce(self) -> None:
        """Append an empty block after the last one, as the chain goes on: 3 s later, by
        the witness that produced 21 blocks earlier (a round of the schedule), with its
        producer reward."""
        i, previous = len(self.appbase), self.ids[-1]
        num = self.first + i
        witness = self.witnesses[i - 21] if i >= 21 else self.witnesses[-1]
        digest = hashlib.sha256(f"replay-node:produced:{previous}".encode()).hexdigest()
        signature = hashlib.sha256(digest.encode()).hexdigest()
        block = {
            "previous": previous,
            "timestamp": shift_time(self.timestamps[-1], BLOCK_SECONDS),
            "witness": witness,
            "transaction_merkle_root": "0" * 40,
            "extensions": [],
            "witness_signature": "1f" + digest + signature,
            "transactions": [],
            "block_id": f"{num:08x}{digest[:32]}",
            "signing_key": signing_key_for(witness),
            "transaction_ids": [],
        }
        reward = nai_amount(10_000_000_000 + int(digest[:6], 16), "VESTS")
        op = {
            "type": "producer_reward_operation",
            "value": {"producer": witness, "vesting_shares": reward},
        }
        self.add(block, None, normalize_virtual_ops([op]))
