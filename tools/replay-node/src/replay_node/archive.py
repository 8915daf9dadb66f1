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
from typing import Any, NamedTuple

from ipc_config.chain import block_num_of, post_url

from .blocks import VIRTUAL_OPS, block_num, dumps_ascii, normalize_record
from .shapes import op_parts

__all__ = [
    "ArchiveError",
    "CommentOp",
    "comment_operations",
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


def iter_archive(
    path: str | Path | None = None, virtual_ops: bool = False
) -> Iterator[dict[str, Any]]:
    """Yield the normalised (appbase) blocks of an archive (default: the bundled sample),
    checking contiguity. Raises :class:`ArchiveError` on the first unreadable line,
    broken link or gap. With ``virtual_ops``, each block carries its virtual operations
    (normalised, see :func:`replay_node.blocks.normalize_virtual_ops`) under the key
    ``virtual_ops``, as in the archive; without, blocks are as a node serves them."""
    for block, _, vops in iter_archive_records(path):
        if virtual_ops:
            block = dict(block, virtual_ops=vops)
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
) -> Iterator[tuple[dict[str, Any], bytes | None, list[dict[str, Any]]]]:
    """Like :func:`iter_archive`, yielding ``(block, line, virtual operations)`` where
    ``line`` is the raw JSON text of the line if it already was exactly the normalised
    block (so it can be served as is), else None."""
    path = Path(path) if path is not None else sample_archive_path()
    prev_num: int | None = None
    prev_id: str | None = None
    count = 0
    for lineno, obj, line in _raw_records(path):
        try:
            block, unchanged, vops = normalize_record(obj)
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
        if vops and line is not None and not unchanged:
            line = _without_virtual_ops(line, obj)
            unchanged = line is not None
        yield block, (line if unchanged else None), vops
    if count == 0:
        raise ArchiveError(path, None, "archive contains no blocks")


def _without_virtual_ops(line: bytes, record: Any) -> bytes | None:
    """The JSON of a record's block alone, cut from the line, when the record is a complete
    appbase block whose last key is ``virtual_ops`` (as :func:`write_archive` writes what
    the generator makes); else None. Saves encoding every block again at load."""
    if not isinstance(record, dict) or next(reversed(record)) != VIRTUAL_OPS:
        return None
    rest = dict(record)
    rest.pop(VIRTUAL_OPS)
    if normalize_record(rest)[1] is not True:
        return None  # the block itself needs normalising: encode it
    marker = b',"' + VIRTUAL_OPS.encode() + b'":'
    at = line.rfind(marker)
    try:
        if at < 0 or json.loads(line[at + len(marker) : -1]) != record[VIRTUAL_OPS]:
            return None
    except ValueError:
        return None  # the marker was inside the virtual operations: encode the block
    return line[:at] + b"}"


def load_archive(path: str | Path | None = None, virtual_ops: bool = False) -> list[dict[str, Any]]:
    """All blocks of an archive (default: the bundled sample), normalised to appbase shape
    (with their virtual operations if ``virtual_ops``: see :func:`iter_archive`)."""
    with gc_paused():
        return list(iter_archive(path, virtual_ops))


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


class CommentOp(NamedTuple):
    """A ``comment`` operation of an archive and what it does on the chain."""

    block_num: int | None  # None for a record with neither block_id nor previous
    trx_in_block: int
    op_in_trx: int
    author: str
    permlink: str
    parent_author: str
    kind: str  # "post" or "reply" (it creates the comment), or "edit"


def comment_operations(
    blocks: Iterable[dict[str, Any]], existing: set[tuple[str, str]] | None = None
) -> Iterator[CommentOp]:
    """Every well-formed ``comment`` operation of ``blocks`` (either shape), in chain
    order, and whether it creates a post, creates a reply or edits.

    Steem has no edit operation: the first ``comment`` for an author/permlink creates the
    comment (a post if ``parent_author`` is empty, else a reply) and every later one for
    the same author/permlink edits it, whatever its body (a diff-match-patch patch or the
    whole text); ``delete_comment`` removes it, so that a later ``comment`` creates it
    anew. Reads nothing but ``blocks``: a comment created before the first block is seen
    as created by its first operation in them, unless ``existing`` (the comments that
    earlier blocks left, updated as this reads on) says otherwise.
    """
    existing = set() if existing is None else existing
    for block in blocks:
        try:
            num: int | None = block_num(block)
        except (KeyError, TypeError, ValueError):
            num = None
        for t, tx in enumerate(block.get("transactions", ())):
            for o, op in enumerate(tx.get("operations", ())):
                parts = op_parts(op)
                if parts is None or not isinstance(parts[1], dict):
                    continue
                name, value = parts
                author, permlink = value.get("author"), value.get("permlink")
                if not (isinstance(author, str) and isinstance(permlink, str)):
                    continue
                key = (author, permlink)
                if name in ("delete_comment", "delete_comment_operation"):
                    existing.discard(key)
                    continue
                parent = value.get("parent_author")
                if name not in ("comment", "comment_operation") or not isinstance(parent, str):
                    continue
                if key in existing:
                    kind = "edit"
                else:
                    existing.add(key)
                    kind = "post" if parent == "" else "reply"
                yield CommentOp(num, t, o, author, permlink, parent, kind)


def new_posts(blocks: Iterable[dict[str, Any]], include_edits: bool = False) -> list[str]:
    """``https://steemit.com/@author/permlink`` of every new post, in chain order.

    A new post is a ``comment`` operation that creates a comment with ``parent_author ==
    ""`` (see :func:`comment_operations`); its edits are skipped (listed too with
    ``include_edits``). A post deleted and created again is listed again.
    """
    out: list[str] = []
    for c in comment_operations(blocks):
        if c.kind == "post" or (include_edits and c.kind == "edit" and c.parent_author == ""):
            try:
                out.append(post_url(c.author, c.permlink))
            except ValueError:
                continue  # an empty author or permlink: not a post anyone can open
    return out
