"""Synthetic transactions and blocks, made coherent by the state of a factory.

Every operation is made from a real operation of the same type (see
:mod:`replay_node.templates`), with its accounts, permlinks, amounts and texts varied.
The mix is roughly that of a busy 2016 block: votes most common, then custom_json
(follows), comments (new posts and replies), transfers and a tail of other types. Every
new post gets an author/permlink pair that is unique in the archive.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from collections.abc import Iterable
from typing import Any

from ipc_config.chain import ASSET_OF_NAI, PRECISION_OF_ASSET

from .blocks import signing_key_for
from .chain_config import BLOCK_SECONDS, format_time
from .edits import Editor, beneficiaries
from .shapes import nai_amount
from .templates import Templates
from .virtual_ops import VirtualOps
from .vocab import ACCOUNT_KEYS, FOLLOW_WHAT, MIX, SYLLABLES, TAGS, WITNESSES

__all__ = ["GENESIS_TIME", "BlockFactory", "default_start_time", "synthetic_block_id"]

GENESIS_TIME = 1458835500  # 2016-03-24T16:05:00Z, timestamp of block 1


def default_start_time(start_block: int) -> int:
    """A plausible unix timestamp for ``start_block`` (genesis + 3 s per block)."""
    return GENESIS_TIME + (start_block - 1) * BLOCK_SECONDS


def synthetic_block_id(num: int, seed: int) -> str:
    """Stable synthetic id for block ``num``: 8 hex digits of the number + 32 of sha256."""
    digest = hashlib.sha256(f"replay-node:{seed}:{num}".encode()).hexdigest()
    return f"{num:08x}{digest[:32]}"


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
        *,
        virtual_ops: bool = False,
        payout_blocks: int = 100,
        edits_per_block: float = 0.0,
        whole_body_edits: float = 0.0,
        beneficiary_share: float = 0.0,
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
            n = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
            if rng.random() < 0.25:
                n += str(rng.randint(1, 99))
            elif rng.random() < 0.08:
                n += "-" + rng.choice(SYLLABLES) + rng.choice(SYLLABLES)
            if 3 <= len(n) <= 16:
                names.add(n)
        self.names = sorted(names)
        kinds, weights = zip(*MIX, strict=True)
        if not self.t.other_types:
            weights = tuple(w if k != "other" else 0 for k, w in MIX)
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
        # What 2016 blocks did not have, each with its own random stream (see edits.py).
        self.vops = VirtualOps(seed, self.names, payout_blocks) if virtual_ops else None
        self.edits_per_block = edits_per_block
        self.editor = Editor(seed, self.t.words, whole_body_edits)
        self.beneficiary_share = beneficiary_share
        self._extras = random.Random(f"beneficiaries:{seed}")

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
            s = self._times[epoch] = format_time(epoch)
        return s

    def _sig(self) -> str:
        return ("1f" if self._rand() < 0.5 else "20") + f"{self._bits(512):0128x}"

    def _amount(self, asset: str) -> dict[str, Any]:
        r = self._rand()
        precision = PRECISION_OF_ASSET[asset]
        return nai_amount(max(1, int(10**precision * (0.001 + r * r * r * 500))), asset)

    def _vary(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            if value.keys() == {"amount", "precision", "nai"}:
                return self._amount(ASSET_OF_NAI[value["nai"]])
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
        if self.beneficiary_share and self._extras.random() < self.beneficiary_share:
            routes = beneficiaries(self._extras, self.names)
            o = {
                "author": author,
                "permlink": permlink,
                "max_accepted_payout": nai_amount(1_000_000_000, "SBD"),
                "percent_steem_dollars": 10000,
                "allow_votes": True,
                "allow_curation_rewards": True,
                "extensions": [
                    {"type": "comment_payout_beneficiaries", "value": {"beneficiaries": routes}}
                ],
            }
            ops[1:] = [{"type": "comment_options_operation", "value": o}]
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
        if self.vops is not None:
            self.vops.voted(value["voter"], (author, permlink), weight)
        return {"type": "vote_operation", "value": value}

    def custom_json(self) -> dict[str, Any]:
        rand = self._rand
        who = self._name()
        if rand() < 0.8:
            what = FOLLOW_WHAT[int(rand() * len(FOLLOW_WHAT))]
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
        amount = self._amount("STEEM" if rand() < 0.75 else "SBD")
        memos = self.t.memos
        memo = memos[int(rand() * len(memos))] if memos and rand() < 0.4 else ""
        value = {"from": self._name(), "to": self._name(), "amount": amount, "memo": memo}
        return {"type": "transfer_operation", "value": value}

    def transfer_to_vesting(self) -> dict[str, Any]:
        who = self._name()
        to = who if self._rand() < 0.6 else self._name()
        value = {"from": who, "to": to, "amount": self._amount("STEEM")}
        return {"type": "transfer_to_vesting_operation", "value": value}

    def other(self) -> dict[str, Any]:
        types = self.t.other_types
        op_type = types[int(self._rand() * len(types))]
        tpls = self.t.by_type[op_type]
        return {"type": op_type, "value": self._vary(tpls[int(self._rand() * len(tpls))])}

    def _post(self, num: int, epoch: int) -> list[dict[str, Any]]:
        """A new post, remembered for its edits and its payout."""
        ops = self.new_post(epoch)
        value = ops[0]["value"]
        if self.edits_per_block:
            self.editor.post_created(num, value)
        if self.vops is not None:
            routes: list[dict[str, Any]] = []
            for op in ops[1:]:
                for ext in op["value"].get("extensions", ()):
                    if isinstance(ext, dict) and ext.get("type") == "comment_payout_beneficiaries":
                        routes = ext["value"]["beneficiaries"]
            self.vops.post_created(num, (value["author"], value["permlink"]), routes)
        return ops

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
        txs = [self.envelope(self._post(num, epoch), num, epoch) for _ in range(posts)]
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
        epb = self.edits_per_block
        if epb:
            count = int(epb) + (1 if self.editor.rng.random() < epb - int(epb) else 0)
            txs.extend(self.envelope([e], num, epoch) for e in self.editor.edits(num, count))
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
