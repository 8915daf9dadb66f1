"""Templates of synthetic operations: real operation values grouped by type, and the
account names, words and memos mined from them."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .archive import load_archive
from .vocab import ACCOUNT_KEYS, CORE_TYPES, URL_WORDS

__all__ = ["Templates"]


class Templates:
    """Real operation values grouped by type, plus names and words mined from them."""

    def __init__(self, blocks: Iterable[dict[str, Any]]):
        by_type: dict[str, list[dict[str, Any]]] = {}
        names: set[str] = set()
        words: set[str] = set()
        memos: set[str] = set()
        seen: set[str] = set()
        for block in blocks:
            for tx in block["transactions"]:
                for op in tx["operations"]:
                    name, value = op["type"], op["value"]
                    key = json.dumps(op, sort_keys=True)
                    if key in seen:
                        continue
                    seen.add(key)
                    by_type.setdefault(name, []).append(value)
                    for k, v in value.items():
                        if k in ACCOUNT_KEYS and isinstance(v, str) and v:
                            names.add(v)
                    if name == "comment_operation":
                        text = value.get("title", "") + " " + value.get("body", "")[:4000]
                        text = re.sub(r"\S*(?:https?://|www\.|\.com|\.jpg|\.png)\S*", " ", text)
                        for w in re.findall(r"(?<![\w@%])[a-z]{3,12}(?![\w@%])", text.lower()):
                            if w not in URL_WORDS and re.search("[aeiouy]", w):
                                words.add(w)
                    elif name == "transfer_operation" and value.get("memo"):
                        memos.add(value["memo"])
        if "comment_operation" not in by_type or "vote_operation" not in by_type:
            raise ValueError("templates need at least one comment and one vote operation")
        self.by_type = {k: by_type[k] for k in sorted(by_type)}
        self.names = sorted(names)
        self.words = sorted(words) or ["steem"]
        self.memos = sorted(memos)
        self.other_types = [t for t in self.by_type if t not in CORE_TYPES]

    @classmethod
    def from_archive(cls, path: str | Path | None = None) -> Templates:
        """Templates from an archive (default: the bundled sample, read once)."""
        if path is None:
            return _sample_templates()
        return cls(load_archive(path))


@functools.cache
def _sample_templates() -> Templates:
    return Templates(load_archive())
