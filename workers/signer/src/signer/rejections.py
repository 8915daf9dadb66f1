"""What a node's answer to a broadcast means, from steemd's own errors.

    verdict = judge(answer["error"])    # a JSON-RPC error object
    verdict.kind                        # ACCEPTED, DUPLICATE, EXPIRED, ..., UNKNOWN
    verdict.reason                      # a few words, for a log line or a `failed` outcome

steemd answers a refused transaction with `{"code", "message", "data"}`: `code` -32003
for an FC_ASSERT and -32000 for any other exception (json_rpc_plugin.cpp), `message` the
exception's name and its formatted text, `data.code` the fc exception code. The texts and
codes below are steemd's (libraries/chain/database.cpp, steem_evaluator.cpp,
protocol/exceptions.hpp, plugins/rc/rc_plugin.cpp):

- DUPLICATE: "Duplicate transaction check failed": the node holds the transaction
  already (pending or in a block, until it expires): it is in.
- EXPIRED: transaction_expiration_exception (4030100): too late, it never gets in.
- TAPOS: transaction_tapos_exception (4030200): its reference block is not on this
  node's chain (a fork, a node far behind); another node, or a later re-sign, does it.
- RC: "Account: X has N RC, needs M RC. Please wait to transact, or power up STEEM."
- TOO_EARLY: the chain's pacing ("Can only vote once every 3 seconds.", "You may only
  post once every 5 minutes.", ...): the same transaction, a block or more later.
- PERMANENT: what no retry changes: missing authority (3010000, 3020000, 3030000),
  irrelevant or duplicate signature (3050000, 3060000), no such account or post
  (chainbase's "unknown key"), "Your current vote on this comment is identical to this
  vote." ("You have already voted in a similar way." before HF20), "Voter has used the
  maximum number of vote changes on this comment.", and every other assertion of an
  evaluator or of the operation's validation; invalid parameters (-32602).
- UNKNOWN: anything else (an "Internal Error", a proxy's message): retried a few times.
"""

import re
from dataclasses import dataclass
from typing import Any

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
EXPIRED = "expired"
TAPOS = "tapos"
RC = "rc"
TOO_EARLY = "too early"
PERMANENT = "permanent"
UNKNOWN = "unknown"

ASSERT_CODE = -32003  # steemd's JSON-RPC code for an FC_ASSERT
INVALID_PARAMS = -32602
EXPIRATION_EXCEPTION = 4030100
TAPOS_EXCEPTION = 4030200
PERMANENT_CODES = {
    3010000: "missing required active authority",
    3020000: "missing required owner authority",
    3030000: "missing required posting authority",
    3040000: "missing required other authority",
    3050000: "irrelevant signature included",
    3060000: "duplicate signature included",
}
_RC = re.compile(r"Account: \S+ has -?\d+ RC, needs \d+ RC")
_TOO_EARLY = (
    "Can only vote once every",
    "You may only post once every",
    "You may only comment once every",
    "Can only perform one comment edit per block",
)
_UNKNOWN_KEY = "unknown key"
_SENTENCE = re.compile(r"([A-Z][^:]*?\.)\s*$")


@dataclass(frozen=True)
class Verdict:
    kind: str
    reason: str


def judge(error: Any) -> Verdict:
    """The verdict on a JSON-RPC `error` object a node answered a broadcast with."""
    if not isinstance(error, dict):
        return Verdict(UNKNOWN, f"malformed error: {str(error)[:100]}")
    message = str(error.get("message", ""))
    data = error.get("data") if isinstance(error.get("data"), dict) else {}
    fc_code = data.get("code")
    text = " ".join([message, *_formats(data)])
    if "Duplicate transaction check failed" in text:
        return Verdict(DUPLICATE, "already known to the node")
    if fc_code == EXPIRATION_EXCEPTION or "transaction expiration exception" in text:
        return Verdict(EXPIRED, "expired")
    if fc_code == TAPOS_EXCEPTION or "transaction tapos exception" in text:
        return Verdict(TAPOS, "reference block unknown to the node (TaPoS)")
    if _RC.search(text) or "Please wait to transact" in text:
        found = _RC.search(text)
        return Verdict(RC, f"not enough RC ({found.group(0)})" if found else "not enough RC")
    for phrase in _TOO_EARLY:
        if phrase in text:
            return Verdict(TOO_EARLY, _sentence(text, phrase))
    if fc_code in PERMANENT_CODES:
        return Verdict(PERMANENT, _short(message) or PERMANENT_CODES[fc_code])
    if _UNKNOWN_KEY in text:
        return Verdict(PERMANENT, f"no such account or post ({_short(message)})")
    if error.get("code") == INVALID_PARAMS:
        return Verdict(PERMANENT, f"invalid parameters ({_short(message)})")
    if error.get("code") == ASSERT_CODE:
        return Verdict(PERMANENT, _assertion(message))
    return Verdict(UNKNOWN, _short(message) or "an error without a message")


def _formats(data: dict[str, Any]) -> list[str]:
    stack = data.get("stack") if isinstance(data.get("stack"), list) else []
    return [str(entry.get("format", "")) for entry in stack if isinstance(entry, dict)]


def _sentence(text: str, phrase: str) -> str:
    start = text.index(phrase)
    end = text.find(".", start)
    return text[start : end + 1 if end >= 0 else len(text)]


def _assertion(message: str) -> str:
    """`Assert Exception:itr->vote_percent != o.weight: Your current vote ... vote.` ->
    the sentence at the end, which is what steemd means for people."""
    found = _SENTENCE.search(message)
    return found.group(1).strip() if found else _short(message)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
