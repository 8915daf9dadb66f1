"""Edits of synthetic posts, and post beneficiaries: what later Steem posts have.

Steem has no edit operation: an edit sends ``comment`` again for the same author and
permlink, never in the block that created the post ("Can only perform one comment edit per
block"). Front ends send the change as a diff-match-patch patch (``@@ -12,4 +12,30 @@``
and the URI-encoded text), except when the whole new body is not longer than the patch
(condenser's ``preBroadcast_comment``); bots and other clients often send the whole body.
:class:`Editor` writes both, a share ``whole_body`` of edits resending the whole body.

Both use their own random stream, so that an archive made without them is the one made
before they existed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

__all__ = ["Editor", "beneficiaries", "patch_appending"]

PATCH_MARGIN = 4  # diff-match-patch's Patch_Margin: characters of context around a change
_URI_SAFE = " !~*'();/?:@&=+$,#-_."  # what encodeURI keeps (and dmp puts spaces back)


def patch_appending(body: str, added: str) -> str:
    """The diff-match-patch patch (``patch_toText``) that appends ``added`` to ``body``."""
    context = body[-PATCH_MARGIN:]
    start = len(body) - len(context) + 1  # 1-based, as in the patch header
    return (
        f"@@ -{start},{len(context)} +{start},{len(context) + len(added)} @@\n"
        f" {quote(context, safe=_URI_SAFE)}\n+{quote(added, safe=_URI_SAFE)}\n"
    )


class Editor:
    """Remembers recent posts and edits them: appends a sentence, sent as a patch or, for a
    share ``whole_body`` of edits, as the whole new body."""

    def __init__(self, seed: int, words: Sequence[str], whole_body: float = 0.0):
        if not 0.0 <= whole_body <= 1.0:
            raise ValueError("whole_body must be between 0 and 1")
        self.rng = random.Random(f"edits:{seed}")
        self.words = words
        self.whole_body = whole_body
        self._posts: list[tuple[int, dict[str, Any]]] = []  # (block, latest comment value)
        self.made = 0
        self.whole_bodies = 0

    def post_created(self, num: int, value: dict[str, Any]) -> None:
        self._posts.append((num, dict(value)))
        if len(self._posts) > 400:
            del self._posts[:100]

    def edits(self, num: int, count: int) -> list[dict[str, Any]]:
        """Up to ``count`` edits for block ``num``: of posts made in earlier blocks, at most
        one per author (steemd: one comment edit per block)."""
        rng, out, authors = self.rng, [], set()
        candidates = [p for p in self._posts if p[0] < num]
        for _ in range(count):
            if not candidates:
                break
            _, value = candidates.pop(int(rng.random() * len(candidates)))
            if value["author"] in authors:
                continue
            authors.add(value["author"])
            words = [
                self.words[int(rng.random() * len(self.words))] for _ in range(rng.randint(3, 12))
            ]
            added = " " + " ".join(words) + "."
            new_body = value["body"] + added
            whole = rng.random() < self.whole_body
            edit = dict(value, body=new_body if whole else patch_appending(value["body"], added))
            value["body"] = new_body  # what the chain holds now (steemd applies the patch)
            out.append({"type": "comment_operation", "value": edit})
            self.made += 1
            self.whole_bodies += whole
        return out


def beneficiaries(rng: random.Random, names: Sequence[str]) -> list[dict[str, Any]]:
    """One or two beneficiaries with 5 to 25 % each, sorted by account as steemd requires."""
    accounts = sorted({names[int(rng.random() * len(names))] for _ in range(rng.randint(1, 2))})
    return [{"account": a, "weight": 500 * rng.randint(1, 5)} for a in accounts]
