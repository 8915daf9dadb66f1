"""One request's record in the store, and its states.

    record = Record.from_request(request)      # state `received`
    record = record.but(state=SIGNED, trx=...)  # a new value, written with a revision check

    received --claim--> claimed --sign, store--> signed --a block holds it--> included
       ^                   |                       |  \\--no irreversible block before its
       |                   +--claim went stale-----+     expiration holds it--> received
       |                      (another takes it)   |     (signed anew: `expired` keeps the
       +-------------------------------------------+      old id)
    signed --refused for good, certainly not in--> failed
    included --a fork drops its block--> signed (the same transaction, broadcast again)

A record is JSON under the request id, in the bucket `steem_tx`; `revision` is the
bucket's sequence for the key, which every write must name (see `signer.store`). The
transaction stays in the record once included: a fork can send it back to `signed`.
"""

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ipc_config.chain import ACCOUNT_NAME

RECEIVED, CLAIMED, SIGNED, INCLUDED, FAILED = "received", "claimed", "signed", "included", "failed"
STATES = (RECEIVED, CLAIMED, SIGNED, INCLUDED, FAILED)
FINAL = (INCLUDED, FAILED)
AUTHORITIES = ("posting", "active")


class BadRequest(ValueError):
    """A request the signer cannot take (missing fields, a bad account)."""


@dataclass(frozen=True)
class Record:
    id: str
    worker: str
    account: str
    authority: str
    operations: list[Any]
    asked_at: str = ""
    state: str = RECEIVED
    attempt: int = 0  # transactions signed for it so far
    claim: dict[str, Any] | None = None  # who is signing it: by, host, pid, at (unix time)
    trx: dict[str, Any] | None = None  # the signed transaction, as broadcast
    trx_id: str = ""
    expiration: str = ""
    signed_head: int = 0  # the head block when it was signed: no earlier block holds it
    signed_head_time: str = ""
    expired: list[str] = field(default_factory=list)  # earlier ids, certainly in no block
    block_num: int = 0
    block_id: str = ""
    reason: str = ""  # why it failed; while signed: refused for good, failed once expired
    errors: int = 0  # broadcasts answered with an error of unknown meaning, all signings
    told: bool = False  # final, and the outcome is published on steem.tx.included/failed
    writer: str = ""  # who wrote this value: tells our own write after an unanswered one
    revision: int = field(default=0, compare=False)  # not stored: the bucket's sequence

    @property
    def key(self) -> str:
        return self.id

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def but(self, **changes: Any) -> "Record":
        return replace(self, **changes)

    def to_json(self) -> bytes:
        value = asdict(self)
        del value["revision"]
        return json.dumps(value, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes, revision: int) -> "Record":
        value = json.loads(data)
        known = {f.name for f in fields(cls)} - {"revision"}
        return cls(**{k: v for k, v in value.items() if k in known}, revision=revision)

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> "Record":
        """A new record for a request as `steem_worker.actions.Actor` writes it."""
        try:
            record = cls(
                id=str(request["id"]),
                worker=str(request["worker"]),
                account=str(request["account"]),
                authority=str(request.get("authority", "posting")),
                operations=list(request["operations"]),
                asked_at=str(request.get("asked_at", "")),
            )
        except (KeyError, TypeError) as err:
            raise BadRequest(f"not a request ({type(err).__name__}: {err})") from None
        if not ACCOUNT_NAME.match(record.account):
            raise BadRequest(f"{record.account!r} is not an account name")
        if record.authority not in AUTHORITIES:
            raise BadRequest(f"authority {record.authority!r} is not one of {AUTHORITIES}")
        if not record.operations or not all(
            isinstance(op, list) and len(op) == 2 and isinstance(op[1], dict)
            for op in record.operations
        ):
            raise BadRequest("operations must be a list of [type, body]")
        return record

    def describe(self) -> str:
        """`vote @alice/hello-world` or `transfer`: what it does, for log lines."""
        parts = []
        for name, body in self.operations:
            if name in ("vote", "comment") and "permlink" in body:
                parts.append(f"{name} @{body.get('author')}/{body.get('permlink')}")
            else:
                parts.append(str(name))
        return ", ".join(parts)


@dataclass
class Counts:
    """Per account: pending (not final), included and failed requests, kept from every
    record the signer has seen, each counted in its latest state."""

    # key -> (account, state, revision) of the latest value seen
    _states: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    _totals: dict[str, dict[str, int]] = field(default_factory=dict)

    def revision_of(self, key: str) -> int:
        """The revision of the latest value seen under `key` (0: none)."""
        seen = self._states.get(key)
        return seen[2] if seen is not None else 0

    def see(self, record: Record) -> None:
        before = self._states.get(record.key)
        if before is not None:
            self._totals[before[0]][_column(before[1])] -= 1
        self._states[record.key] = (record.account, record.state, record.revision)
        totals = self._totals.setdefault(record.account, {"pending": 0, "included": 0, "failed": 0})
        totals[_column(record.state)] += 1

    def __len__(self) -> int:
        return len(self._states)

    def by_account(self) -> dict[str, dict[str, int]]:
        return {account: dict(totals) for account, totals in sorted(self._totals.items())}


def _column(state: str) -> str:
    return state if state in FINAL else "pending"
