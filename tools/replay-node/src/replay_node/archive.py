"""Block archives: loading, validation, and conversion between the two block shapes.

A Steem node answers ``block_api.get_block`` in the *appbase* shape (operations as
``{"type": "vote_operation", "value": {...}}``, amounts as NAI objects) and
``condenser_api.get_block`` in the *condenser* (legacy) shape (operations as
``["vote", {...}]``, amounts as strings like ``"0.080 SBD"``). Archives are JSON Lines
files (optionally gzipped), one block per line, in either shape or wrapped in a full
JSON-RPC response; everything is normalised to the appbase shape at load time.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import hashlib
import json
import queue
import re
import sys
import threading
import zlib
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "ArchiveError",
    "NAI_BY_SYMBOL",
    "SYMBOL_BY_NAI",
    "amount_to_nai",
    "amount_to_string",
    "block_num",
    "canonical_json",
    "dumps",
    "iter_archive",
    "load_archive",
    "new_posts",
    "normalize_block",
    "iter_archive_records",
    "sample_archive_path",
    "signing_key_for",
    "synthetic_tx_id",
    "to_appbase",
    "to_condenser",
    "write_archive",
]

# ---------------------------------------------------------------------------
# Amounts
# ---------------------------------------------------------------------------

#: symbol -> (nai, precision)
NAI_BY_SYMBOL: dict[str, tuple[str, int]] = {
    "STEEM": ("@@000000021", 3),
    "SBD": ("@@000000013", 3),
    "VESTS": ("@@000000037", 6),
}
#: nai -> (symbol, precision)
SYMBOL_BY_NAI: dict[str, tuple[str, int]] = {
    nai: (sym, prec) for sym, (nai, prec) in NAI_BY_SYMBOL.items()
}

_AMOUNT_RE = re.compile(r"^(-?)(\d+)\.(\d+) (STEEM|SBD|VESTS)$")
_NAI_KEYS = frozenset(("amount", "precision", "nai"))

# Free-text fields whose string values are never amounts, even if they look like one.
_TEXT_KEYS = frozenset(
    (
        "body",
        "title",
        "memo",
        "json",
        "json_metadata",
        "posting_json_metadata",
        "url",
        "data",
        "permlink",
        "parent_permlink",
        "id",
    )
)


def amount_to_nai(text: str) -> dict[str, Any] | None:
    """``"193.255 STEEM"`` -> ``{"amount": "193255", "precision": 3, "nai": "@@000000021"}``.

    Returns None if ``text`` is not an amount string with the symbol's exact precision.
    """
    m = _AMOUNT_RE.match(text)
    if m is None:
        return None
    sign, whole, frac, symbol = m.groups()
    nai, precision = NAI_BY_SYMBOL[symbol]
    if len(frac) != precision:
        return None
    value = int(whole + frac)
    return {"amount": (sign if value else "") + str(value), "precision": precision, "nai": nai}


def amount_to_string(obj: dict[str, Any]) -> str | None:
    """NAI object -> ``"193.255 STEEM"``; None if it is not a known NAI amount."""
    if obj.keys() != _NAI_KEYS:
        return None
    known = SYMBOL_BY_NAI.get(obj["nai"])
    if known is None:
        return None
    symbol, precision = known
    if obj["precision"] != precision:
        return None
    try:
        value = int(obj["amount"])
    except (TypeError, ValueError):
        return None
    sign = "-" if value < 0 else ""
    digits = str(abs(value)).rjust(precision + 1, "0")
    return f"{sign}{digits[:-precision]}.{digits[-precision:]} {symbol}"


# ---------------------------------------------------------------------------
# Shape conversion
# ---------------------------------------------------------------------------

# static_variant members that are not operations: field name -> index-ordered type names
_VARIANTS: dict[str, tuple[str, ...]] = {
    # pow2_operation.work: pow2_work = static_variant<pow2, equihash_pow>
    "work": ("pow2", "equihash_pow"),
}
_COMMENT_OPTIONS_EXT = ("comment_payout_beneficiaries",)
_BLOCK_HEADER_EXT = (
    "void_t",
    "version",
    "hardfork_version_vote",
    "required_automated_actions",
    "optional_automated_actions",
)
_TX_EXTRAS = ("transaction_id", "block_num", "transaction_num")


def _value_to_appbase(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        if value.keys() == _NAI_KEYS:
            return dict(value)
        out = {}
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                v = _value_to_appbase(v, k)
            elif type(v) is str and " " in v and k not in _TEXT_KEYS:
                v = amount_to_nai(v) or v
            out[k] = v
        return out
    if isinstance(value, list):
        if (
            key in _VARIANTS
            and len(value) == 2
            and isinstance(value[0], int)
            and isinstance(value[1], dict)
        ):
            names = _VARIANTS[key]
            return {"type": names[value[0]], "value": _value_to_appbase(value[1])}
        out_list = []
        for v in value:
            if isinstance(v, (dict, list)):
                v = _value_to_appbase(v)
            elif type(v) is str and " " in v:
                v = amount_to_nai(v) or v
            out_list.append(v)
        return out_list
    if isinstance(value, str) and key not in _TEXT_KEYS and " " in value:
        return amount_to_nai(value) or value
    return value


def _value_to_condenser(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        if value.keys() == _NAI_KEYS:
            text = amount_to_string(value)
            if text is not None:
                return text
        if key in _VARIANTS and value.keys() == {"type", "value"}:
            names = _VARIANTS[key]
            if value["type"] in names:
                return [names.index(value["type"]), _value_to_condenser(value["value"])]
        out = {}
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                v = _value_to_condenser(v, k)
            out[k] = v
        return out
    if isinstance(value, list):
        return [_value_to_condenser(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def _ext_to_appbase(exts: list, names: tuple[str, ...]) -> list:
    out = []
    for e in exts:
        if isinstance(e, list) and len(e) == 2 and isinstance(e[0], int) and e[0] < len(names):
            out.append({"type": names[e[0]], "value": _value_to_appbase(e[1])})
        else:
            out.append(_value_to_appbase(e))
    return out


def _ext_to_condenser(exts: list, names: tuple[str, ...]) -> list:
    out = []
    for e in exts:
        if isinstance(e, dict) and e.keys() == {"type", "value"} and e["type"] in names:
            out.append([names.index(e["type"]), _value_to_condenser(e["value"])])
        else:
            out.append(_value_to_condenser(e))
    return out


def _op_parts(op: Any) -> tuple[str, Any] | None:
    """(name, value) of ``["vote", {...}]`` or ``{"type": "vote_operation", "value": {...}}``;
    None for anything else (a malformed operation, served as it is)."""
    if isinstance(op, dict) and op.keys() == {"type", "value"} and isinstance(op["type"], str):
        return op["type"], op["value"]
    if isinstance(op, list) and len(op) == 2 and isinstance(op[0], str):
        return op[0], op[1]
    return None


def op_to_appbase(op: Any) -> Any:
    """``["comment", {...}]`` -> ``{"type": "comment_operation", "value": {...}}``.

    A malformed operation (neither shape) is returned unchanged, so that an archive can
    hold one to test how consumers cope with it.
    """
    parts = _op_parts(op)
    if parts is None:
        return op
    name, value = parts
    if not name.endswith("_operation"):
        name += "_operation"
    value = _value_to_appbase(value)
    if (
        name == "comment_options_operation"
        and isinstance(value, dict)
        and isinstance(value.get("extensions"), list)
    ):
        value["extensions"] = _ext_to_appbase(value["extensions"], _COMMENT_OPTIONS_EXT)
    return {"type": name, "value": value}


def op_to_condenser(op: Any) -> Any:
    """``{"type": "comment_operation", "value": {...}}`` -> ``["comment", {...}]``
    (a malformed operation is returned unchanged)."""
    parts = _op_parts(op)
    if parts is None:
        return op
    name, value = parts
    if name.endswith("_operation"):
        name = name[: -len("_operation")]
    value = _value_to_condenser(value)
    if (
        name == "comment_options"
        and isinstance(value, dict)
        and isinstance(value.get("extensions"), list)
    ):
        value["extensions"] = _ext_to_condenser(value["extensions"], _COMMENT_OPTIONS_EXT)
    return [name, value]


def tx_to_appbase(tx: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in tx.items():
        if k == "operations":
            out[k] = [op_to_appbase(op) for op in v]
        elif k in _TX_EXTRAS:
            continue
        elif isinstance(v, (dict, list)):
            out[k] = _value_to_appbase(v, k)
        else:
            out[k] = v
    return out


def tx_to_condenser(tx: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in tx.items():
        if k == "operations":
            out[k] = [op_to_condenser(op) for op in v]
        elif isinstance(v, (dict, list)):
            out[k] = _value_to_condenser(v, k) if v else type(v)()
        else:
            out[k] = v
    return out


def to_appbase(block: dict[str, Any]) -> dict[str, Any]:
    """Convert a block of either shape to the appbase (``block_api``) shape.

    Idempotent; keeps key order; drops the per-transaction ``transaction_id``,
    ``block_num`` and ``transaction_num`` that ``condenser_api.get_block`` adds (using
    them for ``transaction_ids`` if the block has none). Adds no ids of its own: see
    :func:`normalize_block`.
    """
    out: dict[str, Any] = {}
    for k, v in block.items():
        if k == "transactions":
            out[k] = [tx_to_appbase(tx) for tx in v]
        elif k == "extensions" and isinstance(v, list):
            out[k] = _ext_to_appbase(v, _BLOCK_HEADER_EXT)
        else:
            out[k] = v
    txs = block.get("transactions") or []
    if "transaction_ids" not in out and txs and all("transaction_id" in t for t in txs):
        out["transaction_ids"] = [t["transaction_id"] for t in txs]
    return out


def to_condenser(block: dict[str, Any], tx_extras: bool = True) -> dict[str, Any]:
    """Convert a block of either shape to the condenser (legacy) shape.

    Like ``condenser_api.get_block`` on a modern node, when the block has ``block_id``
    and ``transaction_ids`` each transaction gets ``transaction_id``, ``block_num`` and
    ``transaction_num`` (disable with ``tx_extras=False``).
    """
    out: dict[str, Any] = {}
    for k, v in block.items():
        if k == "transactions":
            out[k] = [tx_to_condenser(tx) for tx in v]
        elif k == "extensions" and isinstance(v, list):
            out[k] = _ext_to_condenser(v, _BLOCK_HEADER_EXT)
        else:
            out[k] = v
    ids = block.get("transaction_ids")
    if (
        tx_extras
        and "block_id" in block
        and ids is not None
        and len(ids) == len(out.get("transactions", ()))
    ):
        num = int(block["block_id"][:8], 16)
        for i, tx in enumerate(out["transactions"]):
            tx["transaction_id"] = ids[i]
            tx["block_num"] = num
            tx["transaction_num"] = i
    return out


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_ascii_encoder = json.JSONEncoder(separators=(",", ":"))


def _dumps_ascii(obj: Any) -> bytes:
    return _ascii_encoder.encode(obj).encode()


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as the node serves it.

    A string holding a lone surrogate (an invalid ``"\\ud800"`` escape in the archive)
    cannot be UTF-8: the whole document is then written with ASCII escapes, so the node
    sends the escape on, as a real node relays what it was given.
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _dumps_ascii(obj)


def _hash_text(text: str) -> bytes:
    """UTF-8 bytes to hash; lone surrogates are kept (``surrogatepass``) instead of failing."""
    return text.encode("utf-8", "surrogatepass")


# Real signing keys of 2016 witnesses (from the mainnet fixtures), used when a block
# record has none (bare condenser blocks don't carry it).
SIGNING_KEYS: dict[str, str] = {
    "complexring": "STM6t7b3G3B5d81yoqqFdHzSPgvAHeZd1dZk4nq2CN57TM5pqi3vt",  # block 3286849
    "blocktrades": "STM7EKokr8mn9aCDFpJgm4LBgUjQnWx2aNwT7DnEZeArLLUKxkguq",  # block 5771683
    "joseph": "STM5EAojtkTNSGJgfsKkkstiNRQd2bKDmkBhXg97ZeZVHNh7Pxdyi",  # block 6531076
}
_KEY_POOL = tuple(SIGNING_KEYS.values())


def signing_key_for(witness: str) -> str:
    """A real-format signing key for ``witness`` (its real one if known, else a stable pick)."""
    key = SIGNING_KEYS.get(witness)
    if key is None:
        h = int(hashlib.sha256(witness.encode()).hexdigest(), 16)
        key = _KEY_POOL[h % len(_KEY_POOL)]
    return key


def block_num(block: dict[str, Any]) -> int:
    """Block number: from ``block_id`` if present, else ``previous`` + 1."""
    if block.get("block_id"):
        return int(block["block_id"][:8], 16)
    return int(block["previous"][:8], 16) + 1


def _unwrap(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if "result" in obj and ("jsonrpc" in obj or "id" in obj):
        result = obj["result"]
        if isinstance(result, dict) and isinstance(result.get("block"), dict):
            result = result["block"]
        if not isinstance(result, dict) or not result:
            raise ValueError("JSON-RPC response without a block")
        obj = result
    if "previous" not in obj or "transactions" not in obj:
        raise ValueError("not a block (needs 'previous' and 'transactions')")
    return obj


def _is_normal(block: dict[str, Any]) -> bool:
    """Already a complete appbase block (nothing for :func:`normalize_block` to do)?"""
    if not (block.get("block_id") and block.get("signing_key") and "transaction_ids" in block):
        return False
    exts = block.get("extensions")
    if exts and any(isinstance(e, list) for e in exts):
        return False
    for tx in block["transactions"]:
        if not isinstance(tx, dict) or "transaction_id" in tx:
            return False
        for op in tx.get("operations", ()):
            parts = _op_parts(op)
            if parts is not None and not (isinstance(op, dict) and parts[0].endswith("_operation")):
                return False  # a well-formed operation not in the appbase shape yet
    return True


def normalize_block(obj: Any) -> dict[str, Any]:
    """Any accepted record (appbase/condenser block or JSON-RPC response) -> appbase block
    with ``block_id``, ``signing_key`` and ``transaction_ids``.

    Missing ids are synthesised from the record as given: ``block_id`` = 8 hex digits of
    the block number + 32 hex of sha256(canonical JSON of the block); each transaction id
    = 40 hex of sha256(canonical JSON of the transaction). A missing ``signing_key`` is
    filled with a real-format key (see :func:`signing_key_for`).
    """
    return _normalize(obj)[0]


def _normalize(obj: Any) -> tuple[dict[str, Any], bool]:
    """(normalised block, whether ``obj`` itself was already that block)."""
    raw = _unwrap(obj)
    if _is_normal(raw):
        return raw, raw is obj
    block = to_appbase(raw)
    if not block.get("block_id"):
        num = int(raw["previous"][:8], 16) + 1
        digest = hashlib.sha256(_hash_text(canonical_json(raw))).hexdigest()
        block["block_id"] = f"{num:08x}{digest[:32]}"
    if not block.get("signing_key"):
        block["signing_key"] = signing_key_for(str(block.get("witness", "")))
    if "transaction_ids" not in block:
        block["transaction_ids"] = [synthetic_tx_id(tx) for tx in raw["transactions"]]
    return block, False


def synthetic_tx_id(tx: dict[str, Any]) -> str:
    """Stable stand-in for a transaction id: 40 hex of sha256(canonical JSON of ``tx``)."""
    return hashlib.sha256(_hash_text(canonical_json(tx))).hexdigest()[:40]


# ---------------------------------------------------------------------------
# Archives
# ---------------------------------------------------------------------------


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
            block, unchanged = _normalize(obj)
            num = block_num(block)
            prev_field = int(block["previous"][:8], 16)
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
    with _gc_paused():
        return list(iter_archive(path))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
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
                raw.write(_dumps_ascii(b) + b"\n")
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
                chunk.append(_dumps_ascii(b))
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
            parts = _op_parts(op)
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
            out.append(f"https://steemit.com/@{key[0]}/{key[1]}")
    return out
