"""Fixtures of the steem-chain tests: a generated chain that real replay nodes serve.

The nodes are the real replay node over HTTP (the test kit's `replay_node` fixture
starts it and stops it whatever happens); its fault options make it slow, flaky or down.
"""

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from replay_node.archive import load_archive
from replay_node.generate import generate_archive


@dataclass(frozen=True)
class Chain:
    path: Path
    first: int
    last: int
    ids: dict[int, str]  # block number -> id, as the archive has them


@pytest.fixture(scope="session")
def chain(tmp_path_factory) -> Chain:
    """1,200 generated blocks from 7,000,000, for the replay nodes to serve."""
    path = tmp_path_factory.mktemp("chain") / "chain.jsonl"
    first, count = 7_000_000, 1_200
    generate_archive(path, count=count, start=first, seed=12)
    ids = {int(b["block_id"][:8], 16): b["block_id"] for b in load_archive(path)}
    return Chain(path, first, first + count - 1, ids)


@pytest.fixture
def stop():
    """The stop event of a pool, set when the test ends so no thread keeps retrying."""
    event = threading.Event()
    yield event
    event.set()
