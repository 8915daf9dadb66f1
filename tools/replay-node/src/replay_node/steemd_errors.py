"""Errors of a transaction as steemd answers them over JSON-RPC.

steemd turns an ``fc::exception`` into ``{"code", "message", "data"}``: ``code`` is
-32003 for an ``assert_exception`` (an ``FC_ASSERT`` in an evaluator) and -32000 for any
other exception (``json_rpc_plugin.cpp``); ``message`` is ``what() + ":" +`` the formatted
log messages (``exception::to_string``), and ``data`` the exception itself: ``code``,
``name``, ``message`` (its ``what()``) and ``stack``, one entry per log message
(``format`` and ``data``, and the ``context`` where it was raised). Formats, codes and
names below are steemd 0.23's (``database.cpp``, ``steem_evaluator.cpp``,
``transaction_util.hpp``, ``rc_plugin.cpp``, ``protocol/exceptions.hpp``).
"""

from __future__ import annotations

import re
import time
from typing import Any

from .rpc import RpcError

__all__ = [
    "already_voted",
    "duplicate_transaction",
    "expired",
    "missing_authority",
    "not_enough_rc",
    "steemd_error",
    "tapos",
    "too_early",
    "unknown_key",
]

ASSERT = (10, "assert_exception", "Assert Exception")
# what steemd reports for std::out_of_range thrown by chainbase's get() on a missing key
OUT_OF_RANGE = (
    13,
    "N5boost16exception_detail10clone_implINS0_19error_info_injectorISt12out_of_rangeEEEE",
    "unknown key",
)


def _format(fmt: str, data: dict[str, Any]) -> str:
    """fc::format_string: ``${key}`` replaced by the value (strings without quotes)."""
    return re.sub(r"\$\{([^}]*)\}", lambda m: str(data.get(m.group(1), m.group(0))), fmt)


def steemd_error(
    exception: tuple[int, str, str],
    fmt: str,
    data: dict[str, Any],
    where: tuple[str, int, str] = ("database.cpp", 3644, "_apply_transaction"),
) -> RpcError:
    code, name, what = exception
    rpc_code = -32003 if code == ASSERT[0] else -32000
    context = {
        "level": "error",
        "file": where[0],
        "line": where[1],
        "method": where[2],
        "hostname": "",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
    }
    stack = [{"context": context, "format": fmt, "data": data}]
    body = {"code": code, "name": name, "message": what, "stack": stack}
    return RpcError(rpc_code, f"{what}:{_format(fmt, data)}", body)


def _assert(
    expression: str, message: str, data: dict[str, Any], where: tuple[str, int, str]
) -> RpcError:
    return steemd_error(ASSERT, f"{expression}: {message}", data, where)


def duplicate_transaction(trx_id: str) -> RpcError:
    return _assert(
        "(skip & skip_transaction_dupe_check) || trx_idx.indices().get<by_trx_id>().find(trx_id)"
        " == trx_idx.indices().get<by_trx_id>().end()",
        "Duplicate transaction check failed",
        {"trx_ix": trx_id},
        ("database.cpp", 3644, "_apply_transaction"),
    )


def expired(data: dict[str, Any]) -> RpcError:
    """transaction_expiration_exception: expired, or more than 3,600 s ahead of the head."""
    kind = (4030100, "transaction_expiration_exception", "transaction expiration exception")
    return steemd_error(kind, "", data, ("database.cpp", 3681, "_apply_transaction"))


def tapos(prefix: int, summary: int | None) -> RpcError:
    kind = (4030200, "transaction_tapos_exception", "transaction tapos exception")
    data = {"trx.ref_block_prefix": prefix, "tapos_block_summary": summary}
    return steemd_error(kind, "", data, ("database.cpp", 3674, "_apply_transaction"))


def missing_authority(role: str, account: str, authorities: dict[str, Any]) -> RpcError:
    """tx_missing_{posting,active,owner}_auth for ``account``."""
    code = {"active": 3010000, "owner": 3020000, "posting": 3030000}[role]
    kind = (code, f"tx_missing_{role}_auth", f"missing required {role} authority")
    fmt = f"Missing {role.capitalize()} Authority ${{id}}"
    return steemd_error(
        kind, fmt, {"id": account, **authorities}, ("transaction_util.hpp", 54, "verify_authority")
    )


def irrelevant_signature() -> RpcError:
    kind = (3050000, "tx_irrelevant_sig", "irrelevant signature included")
    return steemd_error(
        kind,
        "Unnecessary signature(s) detected",
        {},
        ("transaction_util.hpp", 63, "verify_authority"),
    )


def unknown_key(data: dict[str, Any], method: str = "get_comment") -> RpcError:
    """What a missing account or comment gives (chainbase's ``get`` throws out_of_range)."""
    return steemd_error(
        OUT_OF_RANGE, "${what}: ", {**data, "what": "unknown key"}, ("database.cpp", 504, method)
    )


def too_early(expression: str, message: str, data: dict[str, Any]) -> RpcError:
    """An evaluator's pacing assert (vote interval, post and reply intervals, edits)."""
    return _assert(expression, message, data, ("steem_evaluator.cpp", 1907, "do_apply"))


def already_voted(changes_left: bool) -> RpcError:
    if not changes_left:
        return _assert(
            "itr->num_changes < STEEM_MAX_VOTE_CHANGES",
            "Voter has used the maximum number of vote changes on this comment.",
            {},
            ("steem_evaluator.cpp", 2118, "hf20_vote_evaluator"),
        )
    # steemd 0.23 (hf20_vote_evaluator) words it so; "You have already voted in a similar
    # way." is the pre-HF20 wording, which mainnet no longer answers.
    return _assert(
        "itr->vote_percent != o.weight",
        "Your current vote on this comment is identical to this vote.",
        {},
        ("steem_evaluator.cpp", 2119, "hf20_vote_evaluator"),
    )


def not_enough_rc(account: str, current: int, needed: int) -> RpcError:
    kind = (4100000, "plugin_exception", "plugin exception")
    fmt = "Account: ${account} has ${rc_current} RC, needs ${rc_needed} RC. Please wait to transact, or power up STEEM."
    data = {"account": account, "rc_needed": needed, "rc_current": current}
    return steemd_error(kind, fmt, data, ("rc_plugin.cpp", 279, "use_account_rcs"))
