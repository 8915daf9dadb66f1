"""Synthetic but realistic block archives, built from real operation shapes.

Every operation is made from a real operation of the same type (the templates: by
default all operations of the bundled sample archive, whose shapes are those of
mainnet records), with its accounts, permlinks, amounts and texts varied. The mix is
roughly that of a busy 2016 block: votes most common, then custom_json (follows),
comments (new posts and replies), transfers and a tail of other types. Every new post
(comment with ``parent_author == ""``) gets an author/permlink pair that is unique in the
archive. Output is deterministic for a given seed and template set.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import random
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .archive import _gc_paused, load_archive, signing_key_for, write_archive

__all__ = [
    "BlockFactory",
    "Templates",
    "default_start_time",
    "generate_archive",
    "generate_blocks",
    "synthetic_block_id",
]

GENESIS_TIME = 1458835500  # 2016-03-24T16:05:00Z, timestamp of block 1
BLOCK_INTERVAL = 3

# Fields that hold an account name (varied when an operation is made from a template).
ACCOUNT_KEYS = frozenset(
    (
        "voter",
        "author",
        "from",
        "to",
        "owner",
        "account",
        "creator",
        "new_account_name",
        "from_account",
        "to_account",
        "proxy",
        "witness",
        "publisher",
        "account_to_recover",
        "recovery_account",
        "new_recovery_account",
        "delegator",
        "delegatee",
        "agent",
        "who",
    )
)

# Popular 2016 steemit tags (used as categories of synthetic posts).
TAGS = (
    "steemit",
    "life",
    "photography",
    "art",
    "travel",
    "bitcoin",
    "steem",
    "introduceyourself",
    "food",
    "story",
    "news",
    "music",
    "crypto",
    "writing",
    "blog",
    "money",
    "health",
    "science",
    "poetry",
    "funny",
    "nature",
    "diy",
    "religion",
    "philosophy",
    "diary",
    "cryptocurrency",
    "gaming",
    "technology",
    "politics",
    "steemfest",
)

# 2016 top-21 witnesses (block producers of synthetic blocks).
WITNESSES = (
    "complexring",
    "blocktrades",
    "joseph",
    "roadscape",
    "smooth.witness",
    "abit",
    "wackou",
    "riverhead",
    "pharesim",
    "xeldal",
    "arhag",
    "bhuz",
    "steempty",
    "clayop",
    "witness.svk",
    "jesta",
    "pfunk",
    "ihashfury",
    "datasecuritynode",
    "kushed",
    "au1nethyb1",
)

_SYLLABLES = [
    "ka",
    "ri",
    "mo",
    "ta",
    "le",
    "ne",
    "so",
    "vi",
    "da",
    "lu",
    "mi",
    "ra",
    "to",
    "be",
    "co",
    "sa",
    "ni",
    "ge",
    "fa",
    "ho",
    "ju",
    "pe",
    "qu",
    "si",
    "ze",
    "ly",
    "ve",
    "wo",
    "xa",
    "ar",
    "en",
    "in",
    "on",
    "ul",
    "ax",
    "el",
    "ix",
]

# Share of non-post operations by kind (new posts are added on top, per block).
_MIX = (
    ("vote", 56),
    ("custom_json", 15),
    ("reply", 15),
    ("transfer", 7),
    ("transfer_to_vesting", 3),
    ("other", 4),
)
_CORE_TYPES = frozenset(
    (
        "vote_operation",
        "comment_operation",
        "custom_json_operation",
        "transfer_operation",
        "transfer_to_vesting_operation",
        "comment_options_operation",
    )
)
_FOLLOW_WHAT = ("[]", '["blog"]', '["blog"]', '["blog"]', '["ignore"]')
_URL_WORDS = frozenset(("http", "https", "www", "com", "jpg", "png", "gif", "html", "org", "net"))


def default_start_time(start_block: int) -> int:
    """A plausible unix timestamp for ``start_block`` (genesis + 3 s per block)."""
    return GENESIS_TIME + (start_block - 1) * BLOCK_INTERVAL


def synthetic_block_id(num: int, seed: int) -> str:
    """Stable synthetic id for block ``num``: 8 hex digits of the number + 32 of sha256."""
    digest = hashlib.sha256(f"replay-node:{seed}:{num}".encode()).hexdigest()
    return f"{num:08x}{digest[:32]}"


def _fmt_time(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))


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
                            if w not in _URL_WORDS and re.search("[aeiouy]", w):
                                words.add(w)
                    elif name == "transfer_operation" and value.get("memo"):
                        memos.add(value["memo"])
        if "comment_operation" not in by_type or "vote_operation" not in by_type:
            raise ValueError("templates need at least one comment and one vote operation")
        self.by_type = {k: by_type[k] for k in sorted(by_type)}
        self.names = sorted(names)
        self.words = sorted(words) or ["steem"]
        self.memos = sorted(memos)
        self.other_types = [t for t in self.by_type if t not in _CORE_TYPES]

    @classmethod
    def from_archive(cls, path: str | Path | None = None) -> Templates:
        """Templates from an archive (default: the bundled sample, read once)."""
        if path is None:
            return _sample_templates()
        return cls(load_archive(path))


@functools.cache
def _sample_templates() -> Templates:
    return Templates(load_archive())


class BlockFactory:
    """Makes synthetic transactions and blocks; keeps the state that makes them coherent
    (recent posts to vote on and reply to, used permlinks, recent block ids).

    Core operations (vote, comment, custom_json, transfer, transfer_to_vesting) are built
    with the fields, in the order, of the real templates as a node emits them; other
    types are copies of a real template with accounts and amounts varied.
    """

    def __init__(
        self,
        templates: Templates,
        seed: int = 0,
        posts_per_block: float = 1.0,
        reserved_posts: Iterable[tuple[str, str]] = (),
    ):
        self.t = templates
        self.seed = seed
        self.rng = random.Random(seed)
        self._rand = self.rng.random
        self._bits = self.rng.getrandbits
        self.posts_per_block = posts_per_block
        self.used_posts: set[tuple[str, str]] = set(reserved_posts)
        self.recent: list[tuple[str, str]] = []  # (author, permlink) of recent comments
        self._recent_pos = 0
        self.block_ids: dict[int, str] = {}
        self._refs: dict[int, tuple[int, int]] = {}
        self._times: dict[int, str] = {}
        self._post_counter = 0
        self.ops_made = 0  # operations in synthetic transactions so far
        self.posts_made = 0  # new posts (root comments) so far
        rng = random.Random(f"names:{seed}")
        names = set(self.t.names)
        while len(names) < 1500:
            n = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
            if rng.random() < 0.25:
                n += str(rng.randint(1, 99))
            elif rng.random() < 0.08:
                n += "-" + rng.choice(_SYLLABLES) + rng.choice(_SYLLABLES)
            if 3 <= len(n) <= 16:
                names.add(n)
        self.names = sorted(names)
        kinds, weights = zip(*_MIX, strict=True)
        if not self.t.other_types:
            weights = tuple(w if k != "other" else 0 for k, w in _MIX)
        self._kinds, self._cum_weights = kinds, list(itertools.accumulate(weights))
        opts = self.t.by_type.get("comment_options_operation", [])
        self._options = [o for o in opts if "percent_steem_dollars" in o] or opts
        words = self.t.words
        pool = [words[int(rng.random() * len(words))] for _ in range(1 << 16)]
        self._pool = " ".join(pool) + " "
        self._pool_at = list(itertools.accumulate((len(w) + 1 for w in pool), initial=0))
        self._reply_meta = [json.dumps({"tags": [t]}, separators=(",", ":")) for t in TAGS]
        for v in self.t.by_type["comment_operation"]:
            self._remember(v["author"], v["permlink"])

    # -- helpers ---------------------------------------------------------------------
    def _name(self) -> str:
        names = self.names
        return names[int(self._rand() * len(names))]

    def _remember(self, author: str, permlink: str) -> None:
        if len(self.recent) < 600:
            self.recent.append((author, permlink))
        else:
            self.recent[self._recent_pos] = (author, permlink)
            self._recent_pos = (self._recent_pos + 1) % 600

    def _recent(self) -> tuple[str, str]:
        return self.recent[int(self._rand() * len(self.recent))]

    def _text(self, lo: int, hi: int) -> str:
        """``lo``..``hi`` random words (a slice of a pre-shuffled pool of real words)."""
        n = lo + int(self._rand() * (hi - lo + 1))
        i = int(self._rand() * (len(self._pool_at) - n - 1))
        return self._pool[self._pool_at[i] : self._pool_at[i + n] - 1]

    def _time(self, epoch: int) -> str:
        s = self._times.get(epoch)
        if s is None:
            if len(self._times) > 4096:
                self._times.clear()
            s = self._times[epoch] = _fmt_time(epoch)
        return s

    def _sig(self) -> str:
        return ("1f" if self._rand() < 0.5 else "20") + f"{self._bits(512):0128x}"

    def _amount(self, nai: str, precision: int) -> dict[str, Any]:
        r = self._rand()
        value = max(1, int(10**precision * (0.001 + r * r * r * 500)))
        return {"amount": str(value), "precision": precision, "nai": nai}

    def _vary(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            if value.keys() == {"amount", "precision", "nai"}:
                return self._amount(value["nai"], value["precision"])
            return {k: self._vary(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._vary(v) for v in value]
        if key in ACCOUNT_KEYS and isinstance(value, str) and value:
            return self._name()
        return value

    # -- operations --------------------------------------------------------------
    def new_post(self, epoch: int) -> list[dict[str, Any]]:
        """A root comment (unique author/permlink), sometimes with comment_options."""
        rand = self._rand
        author = self._name()
        title = self._text(3, 8)
        slug = "-".join(title.split(" ", 6)[:6])
        permlink = slug
        while (author, permlink) in self.used_posts:
            self._post_counter += 1
            permlink = f"{slug}-{self._post_counter:x}"
        self.used_posts.add((author, permlink))
        self.posts_made += 1
        tags = self.rng.sample(TAGS, 1 + int(rand() * 5))
        meta = '{"tags":["' + '","'.join(tags) + '"],"app":"steemit/0.1","format":"markdown"}'
        value = {
            "parent_author": "",
            "parent_permlink": tags[0],
            "author": author,
            "permlink": permlink,
            "title": title.capitalize(),
            "body": self._text(20, 160),
            "json_metadata": meta,
        }
        self._remember(author, permlink)
        ops = [{"type": "comment_operation", "value": value}]
        if self._options and rand() < 0.3:
            o = dict(self._options[int(rand() * len(self._options))])
            o.update(author=author, permlink=permlink)
            ops.append({"type": "comment_options_operation", "value": o})
        return ops

    def reply(self, epoch: int) -> dict[str, Any]:
        rand = self._rand
        pa, pp = self._recent()
        author = self._name()
        stamp = self._time(epoch).replace("-", "").replace(":", "").lower()
        stamp = f"{stamp}{int(rand() * 1000):03d}z"
        permlink = f"re-{pa}-{pp}"[: 255 - len(stamp) - 1] + "-" + stamp
        value = {
            "parent_author": pa,
            "parent_permlink": pp,
            "author": author,
            "permlink": permlink,
            "title": "",
            "body": self._text(3, 40),
            "json_metadata": self._reply_meta[int(rand() * len(self._reply_meta))],
        }
        self._remember(author, permlink)
        return {"type": "comment_operation", "value": value}

    def vote(self) -> dict[str, Any]:
        author, permlink = self._recent()
        r = self._rand()
        weight = 10000 if r < 0.7 else (-10000 if r < 0.72 else 100 * (1 + int(self._rand() * 100)))
        value = {"voter": self._name(), "author": author, "permlink": permlink, "weight": weight}
        return {"type": "vote_operation", "value": value}

    def custom_json(self) -> dict[str, Any]:
        rand = self._rand
        who = self._name()
        if rand() < 0.8:
            what = _FOLLOW_WHAT[int(rand() * len(_FOLLOW_WHAT))]
            payload = (
                f'["follow",{{"follower":"{who}","following":"{self._name()}","what":{what}}}]'
            )
        else:
            author, permlink = self._recent()
            payload = (
                f'["reblog",{{"account":"{who}","author":"{author}","permlink":"{permlink}"}}]'
            )
        value = {"required_auths": [], "required_posting_auths": [who], "id": "follow"}
        value["json"] = payload
        return {"type": "custom_json_operation", "value": value}

    def transfer(self) -> dict[str, Any]:
        rand = self._rand
        amount = self._amount("@@000000021" if rand() < 0.75 else "@@000000013", 3)
        memos = self.t.memos
        memo = memos[int(rand() * len(memos))] if memos and rand() < 0.4 else ""
        value = {"from": self._name(), "to": self._name(), "amount": amount, "memo": memo}
        return {"type": "transfer_operation", "value": value}

    def transfer_to_vesting(self) -> dict[str, Any]:
        who = self._name()
        to = who if self._rand() < 0.6 else self._name()
        value = {"from": who, "to": to, "amount": self._amount("@@000000021", 3)}
        return {"type": "transfer_to_vesting_operation", "value": value}

    def other(self) -> dict[str, Any]:
        types = self.t.other_types
        op_type = types[int(self._rand() * len(types))]
        tpls = self.t.by_type[op_type]
        return {"type": op_type, "value": self._vary(tpls[int(self._rand() * len(tpls))])}

    # -- transactions and blocks ---------------------------------------------------
    def envelope(self, ops: list[dict[str, Any]], num: int, epoch: int) -> dict[str, Any]:
        """Wrap operations in a transaction referencing a recent block."""
        rand = self._rand
        ref = num - 1 - int(rand() * 20)
        info = self._refs.get(ref)
        if info is None:
            ref_id = self.block_ids.get(ref) or synthetic_block_id(ref, self.seed)
            info = (ref & 0xFFFF, int.from_bytes(bytes.fromhex(ref_id[8:16]), "little"))
            if len(self._refs) > 256:
                self._refs.clear()
            self._refs[ref] = info
        return {
            "ref_block_num": info[0],
            "ref_block_prefix": info[1],
            "expiration": self._time(epoch + 3 + int(rand() * 58)),
            "operations": ops,
            "extensions": [],
            "signatures": [self._sig()],
        }

    def transactions(self, num: int, epoch: int) -> list[dict[str, Any]]:
        """The synthetic transactions of one block: new posts plus a mix of other ops."""
        rng = self.rng
        total = min(60, 2 + int(rng.expovariate(1 / 13)))
        ppb = self.posts_per_block
        posts = int(ppb) + (1 if self._rand() < ppb - int(ppb) else 0)
        txs = [self.envelope(self.new_post(epoch), num, epoch) for _ in range(posts)]
        makers = {
            "vote": self.vote,
            "custom_json": self.custom_json,
            "reply": lambda: self.reply(epoch),
            "transfer": self.transfer,
            "transfer_to_vesting": self.transfer_to_vesting,
            "other": self.other,
        }
        kinds = rng.choices(self._kinds, cum_weights=self._cum_weights, k=max(0, total - posts))
        for kind in kinds:
            txs.append(self.envelope([makers[kind]()], num, epoch))
        rng.shuffle(txs)
        self.ops_made += sum(len(tx["operations"]) for tx in txs)
        return txs

    def block(
        self,
        num: int,
        previous: str,
        epoch: int,
        transactions: list[dict[str, Any]],
        transaction_ids: list[str] | None = None,
        block_id: str | None = None,
        witness: str | None = None,
    ) -> dict[str, Any]:
        """Assemble an appbase-shape block (ids default to stable synthetic ones)."""
        rng = self.rng
        if witness is None:
            witness = WITNESSES[num % len(WITNESSES)]
        if block_id is None:
            block_id = synthetic_block_id(num, self.seed)
        if transaction_ids is None:
            transaction_ids = [f"{rng.getrandbits(160):040x}" for _ in transactions]
        self.block_ids[num] = block_id
        self.block_ids.pop(num - 64, None)
        return {
            "previous": previous,
            "timestamp": self._time(epoch),
            "witness": witness,
            "transaction_merkle_root": f"{rng.getrandbits(160):040x}" if transactions else "0" * 40,
            "extensions": [],
            "witness_signature": self._sig(),
            "transactions": transactions,
            "block_id": block_id,
            "signing_key": signing_key_for(witness),
            "transaction_ids": transaction_ids,
        }


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
        epoch = epoch0 + BLOCK_INTERVAL * i
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
    with _gc_paused():
        n = write_archive(blocks, path)
    return {
        "blocks": n,
        "first": start,
        "last": start + n - 1,
        "ops": factory.ops_made,
        "new_posts": factory.posts_made,
    }
