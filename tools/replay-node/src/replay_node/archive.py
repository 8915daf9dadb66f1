"""Block archives: reading, checking and writing JSON Lines files, and the posts in them.

An archive is a JSON Lines file (gzipped if its name ends with ``.gz``), one block per
line, in either shape or wrapped in a full JSON-RPC response; :mod:`replay_node.blocks`
normalises every record to the appbase shape. A file holding one JSON document (a
pretty-printed block or response, or an array of them) is accepted too.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import json
import queue
import sys
import threading
import zlib
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from ipc_config.chain import block_num_of, post_url

from .blocks import block_num, dumps_ascii, normalize_record
from .shapes import op_parts

__all__ = [
    "ArchiveError",
    "gc_paused",
    "iter_archive",
    "iter_archive_records",
    "load_archive",
    "new_posts",
    "sample_archive_path",
    "write_archive",
]


class ArchiveError(ValueError):
    """An archive cannot be served; ``str(err)`` is one line naming file, line and problem."""

    def __init__(self, path: str | Path, line: int | None, problem: str):
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


def sample_archive_path() -> Path:
    """The bundled sample archive (package data)."""
    return Path(str(resources.files("replay_node") / "data" / "sample.jsonl.gz"))


def iter_archive(path: str | Path | None = None) -> Iterator[dict[str, Any]]:
    """Yield the normalised (appbase) blocks of an archive (default: the bundled sample),
    checking contiguity. Raises :class:`ArchiveError` on the first unreadable line,
    broken link or gap."""
    for block, _ in iter_archive_records(path):
        yield block


def _raw_records(path: Path) -> Iterator[tuple[int | None, Any, bytes | None]]:
    """(line number, parsed JSON, stripped line) per non-empty line of a JSON Lines file.

    A file that is not JSON Lines but one JSON document (a pretty-printed block or
    JSON-RPC response, or an array of them) is accepted too; its records then have no
    line number and no reusable line.
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        fh = opener(path, "rb")  # noqa: SIM115 (closed by the with below)
    except OSError as e:
        raise ArchiveError(path, None, f"cannot open: {e.strerror or e}") from e
    with fh:
        lineno = 0
        first = True
        while True:
            try:
                line = fh.readline()
            except (OSError, EOFError, zlib.error) as e:
                raise ArchiveError(path, lineno + 1, f"cannot read: {e}") from e
            if not line:
                return
            lineno += 1
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                if first:
                    try:
                        doc = json.loads(line + b"\n" + fh.read())
                    except (ValueError, OSError, EOFError, zlib.error):
                        doc = None
                    if isinstance(doc, dict | list):
                        yield from (
                            (None, o, None) for o in (doc if isinstance(doc, list) else [doc])
                        )
                        return
                raise ArchiveError(path, lineno, f"invalid JSON: {e}") from e
            first = False
            yield lineno, obj, line


def iter_archive_records(
    path: str | Path | None = None,
) -> Iterator[tuple[dict[str, Any], bytes | None]]:
    """Like :func:`iter_archive`, yielding ``(block, line)`` where ``line`` is the raw JSON
    text of the line if it already was exactly the normalised block (so it can be served
    as is), else None."""
    path = Path(path) if path is not None else sample_archive_path()
    prev_num: int | None = None
    prev_id: str | None = None
    count = 0
    for lineno, obj, line in _raw_records(path):
        try:
            block, unchanged = normalize_record(obj)
            num = block_num(block)
            prev_field = block_num_of(block["previous"])
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            raise ArchiveError(path, lineno, f"not a usable block: {e}") from e
        if prev_field + 1 != num:
            raise ArchiveError(
                path,
                lineno,
                f"block_id {block['block_id']} (block {num}) does not follow "
                f"its previous {block['previous']} (block {prev_field})",
            )
        if len(block["transaction_ids"]) != len(block["transactions"]):
            raise ArchiveError(
                path,
                lineno,
                f"block {num} has {len(block['transactions'])} transactions "
                f"but {len(block['transaction_ids'])} transaction_ids",
            )
        if prev_num is not None:
            if num != prev_num + 1:
                raise ArchiveError(
                    path,
                    lineno,
                    f"not contiguous: block {num} follows block {prev_num} "
                    f"(expected {prev_num + 1})",
                )
            if block["previous"] != prev_id:
                raise ArchiveError(
                    path,
                    lineno,
                    f"block {num} previous {block['previous']} does not match "
                    f"block_id {prev_id} of block {prev_num}",
                )
        prev_num, prev_id = num, block["block_id"]
        count += 1
        yield block, (line if unchanged else None)
    if count == 0:
        raise ArchiveError(path, None, "archive contains no blocks")


def load_archive(path: str | Path | None = None) -> list[dict[str, Any]]:
    """All blocks of an archive (default: the bundled sample), normalised to appbase shape."""
    with gc_paused():
        return list(iter_archive(path))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many acyclic objects (much faster)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def write_archive(blocks: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write blocks as compact ASCII JSON Lines, gzipped if the name ends with ``.gz``
    (reproducibly: no file name or time in the gzip header; compression runs in a helper
    thread). Returns the number of blocks written."""
    path = Path(path)
    n = 0
    with open(path, "wb") as raw:
        if not path.name.endswith(".gz"):
            for b in blocks:
                raw.write(dumps_ascii(b) + b"\n")
                n += 1
            return n
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0)
        q: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        failed: list[BaseException] = []

        def writer() -> None:
            try:
                while (data := q.get()) is not None:
                    gz.write(data)
            except BaseException as e:  # reported by the producer
                failed.append(e)
                while q.get() is not None:
                    pass

        t = threading.Thread(target=writer, name="gzip-writer", daemon=True)
        t.start()
        switch = sys.getswitchinterval()
        sys.setswitchinterval(0.001)  # hand the GIL back to the compressor promptly
        try:
            chunk: list[bytes] = []
            for b in blocks:
                chunk.append(dumps_ascii(b))
                n += 1
                if len(chunk) >= 64:
                    q.put(b"\n".join(chunk) + b"\n")
                    chunk = []
            if chunk:
                q.put(b"\n".join(chunk) + b"\n")
        finally:
            q.put(None)
            t.join()
            gz.close()
            sys.setswitchinterval(switch)
        if failed:
            raise failed[0]
    return n


def _iter_ops(block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name without ``_operation``, value) of each well-formed operation."""
    for tx in block.get("transactions", ()):
        for op in tx.get("operations", ()):
            parts = op_parts(op)
            if parts is None or not isinstance(parts[1], dict):
                continue
            name, value = parts
            if name.endswith("_operation"):
                name = name[: -len("_operation")]
            yield name, value


def new_posts(blocks: Iterable[dict[str, Any]], include_edits: bool = False) -> list[str]:
    """``https://steemit.com/@author/permlink`` of every new post, in chain order.

    A new post is a ``comment`` operation with ``parent_author == ""``. A later comment
    op with the same author/permlink is an edit of that post and is skipped (unless
    ``include_edits``), so each URL appears once. Works on either block shape.
    """
    seen: set[tuple[str, str]] = set()
    out: list[str] = []
    for block in blocks:
        for name, value in _iter_ops(block):
            if name != "comment" or value.get("parent_author") != "":
                continue
            key = (value["author"], value["permlink"])
            if key in seen and not include_edits:
                continue
            seen.add(key)
            try:
                out.append(post_url(*key))
            except ValueError:
                continue  # an empty author or permlink: not a post anyone can open
    return out
