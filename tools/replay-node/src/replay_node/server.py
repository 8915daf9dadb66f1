"""A Steem JSON-RPC node that serves recorded blocks, with a clock and fault injection.

Usage from Python (tests, benchmarks)::

    with ReplayNode(pace=0) as node:           # bundled sample, everything visible
        requests.post(node.url, json={...})

    node = ReplayNode("blocks.jsonl.gz", pace=0.5, irreversible_lag=3).start()
    ...
    node.stop()
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import archive as _archive
from .archive import dumps
from .fork import Fork, fork_branch

__all__ = [
    "BlockStore",
    "FaultDice",
    "Faults",
    "ReplayNode",
    "RpcError",
    "Timeline",
    "chain_config",
    "fault_plan",
]

BLOCK_INTERVAL = 3
MAX_BLOCK_RANGE = 1000

# ---------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------


class BlockStore:
    """Contiguous blocks kept as pre-serialised JSON bytes, one entry per shape."""

    def __init__(self, source: str = "<memory>"):
        self.source = source
        self.first = 0
        self.previous = "0" * 40  # previous of the first block
        self.appbase: list[bytes] = []  # block_api shape
        self.condenser: list[bytes] = []  # condenser_api shape (with tx ids)
        self.ids: list[str] = []
        self.timestamps: list[str] = []
        self.witnesses: list[str] = []

    def __len__(self) -> int:
        return len(self.appbase)

    @property
    def last(self) -> int:
        return self.first + len(self.appbase) - 1

    def _add(self, block: dict[str, Any], line: bytes | None) -> None:
        if not self.appbase:
            self.first = _archive.block_num(block)
            self.previous = block["previous"]
        self.appbase.append(line if line is not None else dumps(block))
        self.condenser.append(dumps(_archive.to_condenser(block)))
        self.ids.append(block["block_id"])
        self.timestamps.append(block["timestamp"])
        self.witnesses.append(block.get("witness", ""))

    @classmethod
    def from_archive(cls, path: str | Path | None = None) -> BlockStore:
        """Load and check an archive (raises :class:`replay_node.archive.ArchiveError`)."""
        path = Path(path) if path is not None else _archive.sample_archive_path()
        store = cls(str(path))
        with _archive._gc_paused():
            for block, line in _archive.iter_archive_records(path):
                store._add(block, line)
        return store

    @classmethod
    def from_blocks(cls, blocks: Iterable[dict[str, Any]], source: str = "<memory>") -> BlockStore:
        """From already normalised, contiguous blocks (e.g. :func:`load_archive` output)."""
        store = cls(source)
        prev_id = None
        for b in blocks:
            block = _archive.normalize_block(b)
            if prev_id is not None and block["previous"] != prev_id:
                raise _archive.ArchiveError(source, len(store) + 1, "blocks are not linked")
            store._add(block, None)
            prev_id = block["block_id"]
        if not store.appbase:
            raise _archive.ArchiveError(source, None, "no blocks")
        return store

    def block(self, index: int) -> dict[str, Any]:
        return json.loads(self.appbase[index])


# ---------------------------------------------------------------------------
# Time model
# ---------------------------------------------------------------------------


class Timeline:
    """Which blocks are visible (head) and irreversible (LIB), and since when.

    ``steps`` counts head advances. The unclamped head index is
    ``start_visible - 1 + steps``; the head is that clamped to the archive, the LIB is
    ``head - lag`` without the clamp (so once the head reached the end, the LIB keeps
    advancing one block per step until everything is irreversible), never below -1
    (i.e. first block - 1). ``behind`` shifts both down (a lagging node). Indexes are
    0-based positions in the archive; -1 means "before the first block".
    """

    def __init__(self, n: int, start_visible: int, lag: int, behind: int = 0):
        self.n = n
        self.start_visible = start_visible
        self.lag = lag
        self.behind = behind
        self.steps = -1
        self.state = (-1, -1)  # (head index, LIB index), replaced atomically
        self.head_at: list[float | None] = [None] * n
        self.irreversible_at: list[float | None] = [None] * n
        self._lock = threading.Lock()

    def indexes(self, steps: int) -> tuple[int, int]:
        top = self.start_visible - 1 + steps
        head = min(self.n - 1, top) - self.behind
        lib = min(self.n - 1, top - self.lag) - self.behind
        return max(-1, head), max(-1, min(lib, head))

    def apply(self, steps: int, now: float | None = None) -> tuple[int, int]:
        """Advance to ``steps`` (never backwards), recording when blocks changed state."""
        with self._lock:
            if steps <= self.steps:
                return self.state
            now = time.time() if now is None else now
            self.steps = steps
            head, lib = self.indexes(steps)
            old_head, old_lib = self.state
            for i in range(old_head + 1, head + 1):
                self.head_at[i] = now
            for i in range(old_lib + 1, lib + 1):
                self.irreversible_at[i] = now
            self.state = (head, lib)
            return self.state

    @property
    def finished(self) -> bool:
        """Nothing left to advance (the LIB reached its final block)."""
        return self.state[1] >= self.indexes(self.n + self.lag + 1)[1]


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------


@dataclass
class Faults:
    """Fault injection for reliability tests (deterministic for a given ``seed`` and
    request order). Shares are probabilities per HTTP POST request."""

    fail_503: float = 0.0  # answer HTTP 503
    fail_truncate: float = 0.0  # send the JSON body cut in half
    fail_rpc_error: float = 0.0  # JSON-RPC error "Internal Error" for the whole request
    fail_stall: float = 0.0  # sleep stall_seconds before answering
    stall_seconds: float = 5.0
    null_blocks: frozenset[int] = field(default_factory=frozenset)  # get_block -> {} / null
    null_blocks_times: int | None = None  # how often per block (None: forever)
    behind: int = 0  # head and LIB reported this many blocks lower
    corrupt_previous: frozenset[int] = field(default_factory=frozenset)  # wrong `previous`
    seed: int = 0

    def __post_init__(self) -> None:
        self.null_blocks = frozenset(int(n) for n in self.null_blocks)
        self.corrupt_previous = frozenset(int(n) for n in self.corrupt_previous)
        for name in ("fail_503", "fail_truncate", "fail_rpc_error", "fail_stall"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.fail_503 + self.fail_truncate + self.fail_rpc_error > 1.0:
            raise ValueError("fail_503 + fail_truncate + fail_rpc_error must be <= 1")
        if self.behind < 0 or self.stall_seconds < 0:
            raise ValueError("behind and stall_seconds must be >= 0")


class FaultDice:
    """The per-request fault draws of a :class:`Faults`: the n-th POST request always gets
    the n-th draw, so a seed fixes which requests fail and how."""

    def __init__(self, faults: Faults):
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        f = self.faults
        return bool(f.fail_503 or f.fail_truncate or f.fail_rpc_error or f.fail_stall)

    def roll(self) -> tuple[bool, str | None]:
        """(stall first?, then "http_503", "truncated", "rpc_error" or None)."""
        f = self.faults
        with self._lock:
            stall = self._rng.random() < f.fail_stall if f.fail_stall else False
            u = self._rng.random()
        if u < f.fail_503:
            return stall, "http_503"
        if u < f.fail_503 + f.fail_truncate:
            return stall, "truncated"
        if u < f.fail_503 + f.fail_truncate + f.fail_rpc_error:
            return stall, "rpc_error"
        return stall, None


def fault_plan(faults: Faults, requests: int) -> list[str]:
    """What the first ``requests`` POST requests will meet: "stall" (whatever follows, a
    client with a shorter timeout gives up), "http_503", "truncated", "rpc_error" or "ok"."""
    dice = FaultDice(faults)
    plan = []
    for _ in range(requests):
        stall, fault = dice.roll()
        plan.append("stall" if stall else fault or "ok")
    return plan


# ---------------------------------------------------------------------------
# Chain data
# ---------------------------------------------------------------------------


def _nai(amount: int, nai: str, precision: int) -> dict[str, Any]:
    return {"amount": str(amount), "precision": precision, "nai": nai}


def chain_config() -> dict[str, Any]:
    """A Steem 0.23 ``get_config`` answer (a representative subset of its keys)."""
    steem = {"nai": "@@000000021", "decimals": 3}
    return {
        "IS_TEST_NET": False,
        "STEEM_ENABLE_SMT": False,
        "SBD_SYMBOL": {"nai": "@@000000013", "decimals": 3},
        "STEEM_INITIAL_VOTE_POWER_RATE": 40,
        "STEEM_REDUCED_VOTE_POWER_RATE": 10,
        "STEEM_100_PERCENT": 10000,
        "STEEM_1_PERCENT": 100,
        "STEEM_ACCOUNT_RECOVERY_REQUEST_EXPIRATION_PERIOD": 86400000000,
        "STEEM_ACTIVE_CHALLENGE_COOLDOWN": 86400000000,
        "STEEM_ACTIVE_CHALLENGE_FEE": _nai(2000, "@@000000021", 3),
        "STEEM_ADDRESS_PREFIX": "STM",
        "STEEM_APR_PERCENT_MULTIPLY_PER_BLOCK": "102035135585887",
        "STEEM_APR_PERCENT_MULTIPLY_PER_HOUR": "119577151364285",
        "STEEM_APR_PERCENT_MULTIPLY_PER_ROUND": "133921203762304",
        "STEEM_APR_PERCENT_SHIFT_PER_BLOCK": 87,
        "STEEM_APR_PERCENT_SHIFT_PER_HOUR": 77,
        "STEEM_APR_PERCENT_SHIFT_PER_ROUND": 83,
        "STEEM_BANDWIDTH_AVERAGE_WINDOW_SECONDS": 604800,
        "STEEM_BANDWIDTH_PRECISION": 1000000,
        "STEEM_BENEFICIARY_LIMIT": 128,
        "STEEM_BLOCKCHAIN_PRECISION": "1000",
        "STEEM_BLOCKCHAIN_PRECISION_DIGITS": 3,
        "STEEM_BLOCKCHAIN_HARDFORK_VERSION": "0.23.0",
        "STEEM_BLOCKCHAIN_VERSION": "0.23.1",
        "STEEM_BLOCK_INTERVAL": BLOCK_INTERVAL,
        "STEEM_BLOCKS_PER_DAY": 28800,
        "STEEM_BLOCKS_PER_HOUR": 1200,
        "STEEM_BLOCKS_PER_YEAR": 10512000,
        "STEEM_CASHOUT_WINDOW_SECONDS": 604800,
        "STEEM_CHAIN_ID": "0" * 64,
        "STEEM_COMMENT_REWARD_FUND_NAME": "comment",
        "STEEM_CONTENT_CONSTANT_HF0": "2000000000000",
        "STEEM_CONTENT_REWARD_PERCENT_HF16": 7500,
        "STEEM_CONTENT_REWARD_PERCENT_HF21": 6500,
        "STEEM_CONVERSION_DELAY": 302400000000,
        "STEEM_CREATE_ACCOUNT_DELEGATION_RATIO": 5,
        "STEEM_CREATE_ACCOUNT_DELEGATION_TIME": 2592000000000,
        "STEEM_CREATE_ACCOUNT_WITH_STEEM_MODIFIER": 30,
        "STEEM_CURATE_APR_PERCENT": 3875,
        "STEEM_DEFAULT_SBD_INTEREST_RATE": 1000,
        "STEEM_DELEGATION_RETURN_PERIOD_HF20": 432000,
        "STEEM_DOWNVOTE_POOL_PERCENT_HF21": 2500,
        "STEEM_EQUIHASH_K": 6,
        "STEEM_EQUIHASH_N": 140,
        "STEEM_FEED_HISTORY_WINDOW": 84,
        "STEEM_FEED_INTERVAL_BLOCKS": 1200,
        "STEEM_GENESIS_TIME": "2016-03-24T16:00:00",
        "STEEM_HARDFORK_REQUIRED_WITNESSES": 17,
        "STEEM_HF21_CONVERGENT_LINEAR_RECENT_CLAIMS": "503600561838938636",
        "STEEM_INFLATION_NARROWING_PERIOD": 250000,
        "STEEM_INFLATION_RATE_START_PERCENT": 978,
        "STEEM_INFLATION_RATE_STOP_PERCENT": 95,
        "STEEM_INIT_MINER_NAME": "initminer",
        "STEEM_INIT_PUBLIC_KEY_STR": "STM8GC13uCZbP44HzMLV6zPZGwVQ8Nt4Kji8PapsPiNq1BK153XTX",
        "STEEM_INIT_SUPPLY": "0",
        "STEEM_INIT_TIME": "1970-01-01T00:00:00",
        "STEEM_IRREVERSIBLE_THRESHOLD": 7500,
        "STEEM_LIQUIDITY_APR_PERCENT": 750,
        "STEEM_MAX_ACCOUNT_CREATION_FEE": 1000000000,
        "STEEM_MAX_ACCOUNT_NAME_LENGTH": 16,
        "STEEM_MAX_ACCOUNT_WITNESS_VOTES": 30,
        "STEEM_MAX_ASSET_WHITELIST_AUTHORITIES": 10,
        "STEEM_MAX_AUTHORITY_MEMBERSHIP": 40,
        "STEEM_MAX_BLOCK_SIZE": 393216000,
        "STEEM_SOFT_MAX_BLOCK_SIZE": 2097152,
        "STEEM_MAX_CASHOUT_WINDOW_SECONDS": 1209600,
        "STEEM_MAX_COMMENT_DEPTH": 65535,
        "STEEM_MAX_COMMENT_DEPTH_PRE_HF17": 6,
        "STEEM_MAX_FEED_AGE_SECONDS": 604800,
        "STEEM_MAX_INSTANCE_ID": "281474976710655",
        "STEEM_MAX_MEMO_SIZE": 2048,
        "STEEM_MAX_WITNESSES": 21,
        "STEEM_MAX_MINER_WITNESSES_HF0": 1,
        "STEEM_MAX_MINER_WITNESSES_HF17": 0,
        "STEEM_MAX_PERMLINK_LENGTH": 256,
        "STEEM_MAX_PROXY_RECURSION_DEPTH": 4,
        "STEEM_MAX_RATION_DECAY_RATE": 1000000,
        "STEEM_MAX_RESERVE_RATIO": 20000,
        "STEEM_MAX_RUNNER_WITNESSES_HF0": 1,
        "STEEM_MAX_RUNNER_WITNESSES_HF17": 1,
        "STEEM_MAX_SATOSHIS": "4611686018427387903",
        "STEEM_MAX_SHARE_SUPPLY": "1000000000000000",
        "STEEM_MAX_SIG_CHECK_DEPTH": 2,
        "STEEM_MAX_SIG_CHECK_ACCOUNTS": 125,
        "STEEM_MAX_TIME_UNTIL_EXPIRATION": 3600,
        "STEEM_MAX_TRANSACTION_SIZE": 65536,
        "STEEM_MAX_UNDO_HISTORY": 10000,
        "STEEM_MAX_URL_LENGTH": 127,
        "STEEM_MAX_VOTE_CHANGES": 5,
        "STEEM_MAX_VOTED_WITNESSES_HF0": 19,
        "STEEM_MAX_VOTED_WITNESSES_HF17": 20,
        "STEEM_MAX_WITHDRAW_ROUTES": 10,
        "STEEM_MAX_WITNESS_URL_LENGTH": 2048,
        "STEEM_MIN_ACCOUNT_CREATION_FEE": 1,
        "STEEM_MIN_ACCOUNT_NAME_LENGTH": 3,
        "STEEM_MIN_BLOCK_SIZE_LIMIT": 65536,
        "STEEM_MIN_BLOCK_SIZE": 115,
        "STEEM_MIN_CONTENT_REWARD": _nai(1000, "@@000000021", 3),
        "STEEM_MIN_CURATE_REWARD": _nai(1000, "@@000000021", 3),
        "STEEM_MIN_PERMLINK_LENGTH": 0,
        "STEEM_MIN_REPLY_INTERVAL": 20000000,
        "STEEM_MIN_REPLY_INTERVAL_HF20": 3000000,
        "STEEM_MIN_ROOT_COMMENT_INTERVAL": 300000000,
        "STEEM_MIN_COMMENT_EDIT_INTERVAL": 3000000,
        "STEEM_MIN_VOTE_INTERVAL_SEC": 3,
        "STEEM_MINER_ACCOUNT": "miners",
        "STEEM_MINER_PAY_PERCENT": 100,
        "STEEM_MIN_FEEDS": 7,
        "STEEM_MINING_REWARD": _nai(1000, "@@000000021", 3),
        "STEEM_MINING_TIME": "2016-03-24T17:00:00",
        "STEEM_MIN_LIQUIDITY_REWARD": _nai(1200000, "@@000000021", 3),
        "STEEM_MIN_LIQUIDITY_REWARD_PERIOD_SEC": 60000000,
        "STEEM_MIN_PAYOUT_SBD": _nai(20, "@@000000013", 3),
        "STEEM_MIN_POW_REWARD": _nai(1000, "@@000000021", 3),
        "STEEM_MIN_PRODUCER_REWARD": _nai(1000, "@@000000021", 3),
        "STEEM_MIN_TRANSACTION_EXPIRATION_LIMIT": 15,
        "STEEM_MIN_TRANSACTION_SIZE_LIMIT": 1024,
        "STEEM_MIN_UNDO_HISTORY": 10,
        "STEEM_NULL_ACCOUNT": "null",
        "STEEM_NUM_INIT_MINERS": 1,
        "STEEM_OWNER_AUTH_HISTORY_TRACKING_START_BLOCK_NUM": 3186477,
        "STEEM_OWNER_AUTH_RECOVERY_PERIOD": 2592000000000,
        "STEEM_OWNER_CHALLENGE_COOLDOWN": 86400000000,
        "STEEM_OWNER_CHALLENGE_FEE": _nai(30000, "@@000000021", 3),
        "STEEM_OWNER_UPDATE_LIMIT": 3600000000,
        "STEEM_POST_AVERAGE_WINDOW": 86400,
        "STEEM_POST_REWARD_FUND_NAME": "post",
        "STEEM_POST_WEIGHT_CONSTANT": 1600000000,
        "STEEM_POW_APR_PERCENT": 750,
        "STEEM_PRODUCER_APR_PERCENT": 750,
        "STEEM_PROXY_TO_SELF_ACCOUNT": "",
        "STEEM_RECENT_RSHARES_DECAY_TIME_HF17": 2592000000000,
        "STEEM_RECENT_RSHARES_DECAY_TIME_HF19": 1296000000000,
        "STEEM_REVERSE_AUCTION_WINDOW_SECONDS_HF21": 300,
        "STEEM_ROOT_POST_PARENT": "",
        "STEEM_SAVINGS_WITHDRAW_REQUEST_LIMIT": 100,
        "STEEM_SAVINGS_WITHDRAW_TIME": 259200000000,
        "STEEM_SBD_START_PERCENT_HF20": 900,
        "STEEM_SBD_STOP_PERCENT_HF20": 1000,
        "STEEM_SECOND_CASHOUT_WINDOW": 259200,
        "STEEM_SOFT_MAX_COMMENT_DEPTH": 255,
        "STEEM_START_MINER_VOTING_BLOCK": 864000,
        "STEEM_START_VESTING_BLOCK": 201600,
        "STEEM_TEMP_ACCOUNT": "temp",
        "STEEM_UPVOTE_LOCKOUT_HF7": 60000000,
        "STEEM_UPVOTE_LOCKOUT_HF17": 43200000000,
        "STEEM_UPVOTE_LOCKOUT_SECONDS": 43200,
        "STEEM_VESTING_FUND_PERCENT_HF16": 1500,
        "STEEM_VESTING_WITHDRAW_INTERVALS": 13,
        "STEEM_VESTING_WITHDRAW_INTERVALS_PRE_HF_16": 104,
        "STEEM_VESTING_WITHDRAW_INTERVAL_SECONDS": 604800,
        "STEEM_VOTE_DUST_THRESHOLD": 50000000,
        "STEEM_VOTING_MANA_REGENERATION_SECONDS": 432000,
        "STEEM_SYMBOL": steem,
        "VESTS_SYMBOL": {"nai": "@@000000037", "decimals": 6},
        "STEEM_VIRTUAL_SCHEDULE_LAP_LENGTH": "18446744073709551615",
        "STEEM_VIRTUAL_SCHEDULE_LAP_LENGTH2": "340282366920938463463374607431768211455",
        "STEEM_MAX_LIMIT_ORDER_EXPIRATION": 2419200,
        "STEEM_DELEGATION_RETURN_PERIOD_HF0": 604800,
        "STEEM_RD_MIN_DECAY_BITS": 6,
        "STEEM_RD_MAX_DECAY_BITS": 32,
        "STEEM_RD_DECAY_DENOM_SHIFT": 36,
        "STEEM_RD_MAX_POOL_BITS": 64,
        "STEEM_RD_MAX_BUDGET_1": "17179869183",
        "STEEM_RD_MAX_BUDGET_2": 268435455,
        "STEEM_RD_MAX_BUDGET_3": 2147483647,
        "STEEM_RD_MAX_BUDGET": 268435455,
        "STEEM_RD_MIN_DECAY": 33554432,
        "STEEM_RD_MIN_BUDGET": 1,
        "STEEM_RD_MAX_DECAY": 268435455,
        "STEEM_ACCOUNT_SUBSIDY_PRECISION": 10000,
        "STEEM_WITNESS_SUBSIDY_BUDGET_PERCENT": 12500,
        "STEEM_WITNESS_SUBSIDY_DECAY_PERCENT": 210000,
        "STEEM_DEFAULT_ACCOUNT_SUBSIDY_DECAY": 347321,
        "STEEM_DEFAULT_ACCOUNT_SUBSIDY_BUDGET": 797,
        "STEEM_DECAY_BACKSTOP_PERCENT": 9000,
        "STEEM_BLOCK_GENERATION_POSTPONED_TX_LIMIT": 5,
        "STEEM_PENDING_TRANSACTION_EXECUTION_LIMIT": 200000,
        "STEEM_TREASURY_ACCOUNT": "steem.dao",
        "STEEM_TREASURY_FEE": 10000,
        "STEEM_PROPOSAL_MAINTENANCE_PERIOD": 3600,
        "STEEM_PROPOSAL_MAINTENANCE_CLEANUP": 86400,
        "STEEM_PROPOSAL_SUBJECT_MAX_LENGTH": 80,
        "STEEM_PROPOSAL_MAX_IDS_NUMBER": 5,
    }


def _dgp(store: BlockStore, head: int, lib: int) -> dict[str, Any]:
    """``database_api.get_dynamic_global_properties`` for head/LIB indexes."""
    first = store.first
    if head >= 0:
        head_id, ts, witness = store.ids[head], store.timestamps[head], store.witnesses[head]
    else:
        head_id, ts = store.previous, _shift_time(store.timestamps[0], -BLOCK_INTERVAL)
        witness = store.witnesses[0]
    num = first + head
    supply = 100_000_000_000 + 40_000 * num  # 0.001 STEEM units; ~231M STEEM at 3.3M
    vesting_steem = supply * 7 // 10
    return {
        "id": 0,
        "head_block_number": num,
        "head_block_id": head_id,
        "time": ts,
        "current_witness": witness,
        "total_pow": 514415,
        "num_pow_witnesses": 172,
        "virtual_supply": _nai(supply + supply // 50, "@@000000021", 3),
        "current_supply": _nai(supply, "@@000000021", 3),
        "confidential_supply": _nai(0, "@@000000021", 3),
        "init_sbd_supply": _nai(0, "@@000000013", 3),
        "current_sbd_supply": _nai(supply // 60, "@@000000013", 3),
        "confidential_sbd_supply": _nai(0, "@@000000013", 3),
        "total_vesting_fund_steem": _nai(vesting_steem, "@@000000021", 3),
        "total_vesting_shares": _nai(vesting_steem * 2_000_000, "@@000000037", 6),
        "total_reward_fund_steem": _nai(supply // 1000, "@@000000021", 3),
        "total_reward_shares2": "0",
        "pending_rewarded_vesting_shares": _nai(vesting_steem // 400, "@@000000037", 6),
        "pending_rewarded_vesting_steem": _nai(vesting_steem // 800_000, "@@000000021", 3),
        "sbd_interest_rate": 0,
        "sbd_print_rate": 10000,
        "maximum_block_size": 65536,
        "required_actions_partition_percent": 0,
        "current_aslot": num + num // 50,
        "recent_slots_filled": "340282366920938463463374607431768211455",
        "participation_count": 128,
        "last_irreversible_block_num": first + lib,
        "vote_power_reserve_rate": 10,
        "delegation_return_period": 432000,
        "reverse_auction_seconds": 300,
        "available_account_subsidies": 13225358,
        "sbd_stop_percent": 1000,
        "sbd_start_percent": 900,
        "next_maintenance_time": _shift_time(ts, 3600),
        "last_budget_time": _shift_time(ts, -2400),
        "content_reward_percent": 6500,
        "vesting_reward_percent": 1500,
        "sps_fund_percent": 1000,
        "sps_interval_ledger": _nai(0, "@@000000013", 3),
        "downvote_pool_percent": 2500,
        "current_remove_threshold": 200,
    }


def _shift_time(ts: str, seconds: int) -> str:
    import calendar

    epoch = calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%S")) + seconds
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))


# ---------------------------------------------------------------------------
# JSON-RPC
# ---------------------------------------------------------------------------


class RpcError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


_KNOWN_APIS = frozenset(
    (
        "account_by_key_api",
        "account_history_api",
        "block_api",
        "condenser_api",
        "database_api",
        "follow_api",
        "jsonrpc",
        "market_history_api",
        "network_broadcast_api",
        "rc_api",
        "tags_api",
        "witness_api",
    )
)
_HTTP_503 = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
    b"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {200: b"OK", 404: b"Not Found", 405: b"Method Not Allowed", 503: b"Service Unavailable"}


def _both_shapes(block: dict[str, Any]) -> tuple[bytes, bytes]:
    """Served bytes of an appbase block: (block_api shape, condenser_api shape)."""
    return dumps(block), dumps(_archive.to_condenser(block))


def _error(id_bytes: bytes, code: int, message: str) -> bytes:
    err = dumps({"code": code, "message": message})
    return b'{"jsonrpc":"2.0","error":' + err + b',"id":' + id_bytes + b"}"


def _num_param(params: Any, key: str = "block_num") -> int:
    """Block number from ``{"block_num": n}``, ``[n]`` or ``[{"block_num": n}]``."""
    value: Any = None
    if isinstance(params, dict):
        value = params.get(key)
    elif isinstance(params, list) and params:
        value = params[0]
        if isinstance(value, dict):
            value = value.get(key)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RpcError(-32602, f"Invalid parameters: expected {key}")
    return value


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    node: ReplayNode


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "replay-node"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.node._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.node._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # no access log

    def _send(self, code: int, body: bytes, ctype: bytes = b"application/json") -> None:
        head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
            code,
            _REASONS.get(code, b"Error"),
            ctype,
            len(body),
        )
        if self.close_connection:
            head += b"Connection: close\r\n"
        try:
            self.wfile.write(head + b"\r\n" + body)
        except OSError:
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_POST(self) -> None:  # noqa: N802
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        code, payload, ctype = self.server.node._handle_post(body)
        self._send(code, payload, ctype)

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0].rstrip("/")
        node = self.server.node
        if path == "/status":
            self._send(200, dumps(node.status()))
        elif path == "/visibility":
            self._send(200, dumps(node.visibility()))
        else:
            msg = {"error": "JSON-RPC is served with POST; GET /status or /visibility"}
            self._send(404, dumps(msg))


FAULT_KINDS = ("http_503", "truncated", "rpc_error", "stall", "null_block", "corrupt_previous")


def corrupt_id(num: int, previous: str) -> str:
    """A wrong `previous` for block ``num``: the right number, another hash."""
    digest = hashlib.sha256(f"replay-node:corrupt:{previous}".encode()).hexdigest()
    return f"{num - 1:08x}{digest[:32]}"


class ReplayNode:
    """The replay node: an HTTP JSON-RPC server over a :class:`BlockStore`.

    ``archive``: path of a JSON Lines archive (default: bundled sample), or pass
    ``store``/``blocks`` instead. ``pace``: seconds per head advance (0: the whole
    archive is visible at once and nothing advances, except through :meth:`advance`).
    ``start_blocks``: blocks visible at start (default: all with pace 0, else 1).
    ``irreversible_lag``: head - LIB (default 0 with pace 0, else 15). ``latency``:
    seconds to sleep before answering each JSON-RPC request. ``forks``: block numbers N
    at which the chain switches, once the head moves past N, to another branch for blocks
    N-``fork_depth``+1..N (see :mod:`replay_node.fork`); ``fork_depth`` must not exceed
    the irreversible lag. The remaining keyword arguments are :class:`Faults` fields.
    """

    def __init__(
        self,
        archive: str | Path | None = None,
        *,
        store: BlockStore | None = None,
        blocks: Iterable[dict[str, Any]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        pace: float = 3.0,
        start_blocks: int | None = None,
        irreversible_lag: int | None = None,
        latency: float = 0.0,
        faults: Faults | None = None,
        forks: Iterable[int] = (),
        fork_depth: int = 2,
        **fault_options: Any,
    ):
        if store is None:
            store = (
                BlockStore.from_blocks(blocks)
                if blocks is not None
                else BlockStore.from_archive(archive)
            )
        if pace < 0 or latency < 0:
            raise ValueError("pace and latency must be >= 0")
        self.store = store
        self.host = host
        self.port = port
        self.pace = float(pace)
        n = len(store)
        if start_blocks is None:
            start_blocks = n if self.pace == 0 else 1
        if start_blocks < 0:
            raise ValueError("start_blocks must be >= 0")
        self.start_blocks = min(start_blocks, n)
        if irreversible_lag is None:
            irreversible_lag = 0 if self.pace == 0 else 15
        if irreversible_lag < 0:
            raise ValueError("irreversible_lag must be >= 0")
        self.irreversible_lag = irreversible_lag
        self.latency = float(latency)
        self.faults = faults if faults is not None else Faults(**fault_options)
        self.timeline = Timeline(n, self.start_blocks, irreversible_lag, self.faults.behind)
        self.requests_served = 0
        self.calls_served = 0
        self.faults_injected = dict.fromkeys(FAULT_KINDS, 0)
        self._counter_lock = threading.Lock()
        self.forks = self._plan_forks(sorted(set(forks)), fork_depth)
        # Archive indexes served with other bytes than the store's: (appbase, condenser).
        self._after_fork: dict[int, tuple[bytes, bytes]] = {}
        for fork in self.forks:
            successor = self.store.block(fork.hi + 1)
            successor["previous"] = fork.ids[-1]
            self._after_fork[fork.hi + 1] = _both_shapes(successor)
        self._corrupt: dict[int, tuple[bytes, bytes]] = {}
        for num in sorted(self.faults.corrupt_previous):
            i = num - store.first
            if 0 <= i < n:
                block = self.store.block(i)
                block["previous"] = corrupt_id(num, block["previous"])
                self._corrupt[i] = _both_shapes(block)
        self._special = bool(self.forks or self._corrupt)
        self._dice = FaultDice(self.faults)
        self._null_left: dict[int, int] = {}
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._t0 = 0.0
        self._auto_steps = 0
        self._manual_steps = 0
        self._dgp_cache: dict[tuple[int, int, bool], bytes] = {}
        self._config = dumps(chain_config())
        self._methods = {
            "database_api.get_config": self._m_config,
            "condenser_api.get_config": self._m_config,
            "database_api.get_dynamic_global_properties": self._m_dgp,
            "condenser_api.get_dynamic_global_properties": self._m_dgp_condenser,
            "block_api.get_block": self._m_get_block,
            "condenser_api.get_block": self._m_get_block_condenser,
            "block_api.get_block_range": self._m_get_block_range,
            "block_api.get_block_header": self._m_get_block_header,
            "condenser_api.get_block_header": self._m_get_block_header_condenser,
            "account_history_api.get_ops_in_block": self._m_ops_in_block,
            "condenser_api.get_ops_in_block": self._m_ops_in_block_condenser,
            "database_api.get_version": self._m_version,
            "condenser_api.get_version": self._m_version,
            "jsonrpc.get_methods": self._m_methods,
        }

    def _plan_forks(self, at: list[int], depth: int) -> list[Fork]:
        """Check the requested forks and build their new branches."""
        if not at:
            return []
        store, lag = self.store, self.irreversible_lag
        if depth < 1:
            raise ValueError("fork depth must be at least 1")
        if depth > lag:
            raise ValueError(
                f"fork depth {depth} is more than the irreversible lag {lag}: "
                "a fork may only replace blocks that are not irreversible yet"
            )
        head_at_start = self.timeline.indexes(0)[0]
        forks: list[Fork] = []
        for num in at:
            lo, hi = num - depth + 1 - store.first, num - store.first
            if lo < 1:
                raise ValueError(
                    f"fork at {num}: blocks {num - depth + 1}..{num} must follow a block of "
                    f"the archive (its first block is {store.first})"
                )
            if hi >= len(store) - 1:
                raise ValueError(
                    f"fork at {num}: the archive must go on after block {num} "
                    f"(its last block is {store.last})"
                )
            if hi < head_at_start:
                raise ValueError(
                    f"fork at {num}: the head is already at block {store.first + head_at_start} "
                    "at start; a fork must come later"
                )
            if forks and lo <= forks[-1].hi + 1:
                raise ValueError(
                    f"forks at {forks[-1].at} and {num} overlap: with depth {depth} they "
                    f"must be at least {depth + 1} blocks apart"
                )
            old = [store.block(i) for i in range(lo, hi + 1)]
            branch = fork_branch(old, store.ids[lo - 1])
            fork = Fork(
                at=num,
                depth=depth,
                lo=lo,
                hi=hi,
                fork_point=(num - depth, store.ids[lo - 1]),
                abandoned=[(store.first + i, store.ids[i]) for i in range(lo, hi + 1)],
                ids=[b["block_id"] for b in branch],
            )
            for block in branch:
                appbase, condenser = _both_shapes(block)
                fork.appbase.append(appbase)
                fork.condenser.append(condenser)
            forks.append(fork)
        return forks

    # -- lifecycle -------------------------------------------------------------------
    @property
    def first_block(self) -> int:
        return self.store.first

    @property
    def last_block(self) -> int:
        return self.store.last

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ReplayNode:
        """Bind, start serving and start the clock. Returns self."""
        if self._server is not None:
            raise RuntimeError("already started")
        server = _Server((self.host, self.port), _Handler)
        server.node = self
        self._server = server
        self.port = server.server_address[1]
        self._t0 = time.time()
        self.timeline.apply(0, self._t0)
        t = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="replay-node-http"
        )
        t.daemon = True
        t.start()
        self._threads.append(t)
        if self.pace > 0:
            ticker = threading.Thread(target=self._tick_loop, name="replay-node-clock", daemon=True)
            ticker.start()
            self._threads.append(ticker)
        return self

    def stop(self) -> None:
        """Stop serving, close client connections and the clock. Idempotent."""
        self._stop.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(timeout=2)
        self._threads.clear()

    def __enter__(self) -> ReplayNode:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # -- clock ---------------------------------------------------------------------
    def _tick_loop(self) -> None:
        pace = self.pace
        while not self._stop.is_set() and not self.timeline.finished:
            k = self._auto_steps + 1
            delay = self._t0 + k * pace - time.time()
            if delay > 0 and self._stop.wait(delay):
                return
            now = time.time()
            self._auto_steps = max(k, int((now - self._t0) / pace))
            self.timeline.apply(self._auto_steps + self._manual_steps, now)

    def advance(self, steps: int = 1) -> tuple[int, int]:
        """Advance the head by ``steps`` blocks now (the LIB follows); returns
        ``(head, irreversible)`` block numbers."""
        with self._counter_lock:
            self._manual_steps += steps
            total = self._auto_steps + self._manual_steps
        self.timeline.apply(total)
        return self.head_and_irreversible()

    def head_and_irreversible(self) -> tuple[int, int]:
        head, lib = self.timeline.state
        return self.store.first + head, self.store.first + lib

    def status(self) -> dict[str, Any]:
        head, lib = self.head_and_irreversible()
        return {
            "first_block": self.store.first,
            "last_block": self.store.last,
            "head": head,
            "irreversible": lib,
            "requests_served": self.requests_served,
            "calls_served": self.calls_served,
            "pace": self.pace,
            "irreversible_lag": self.irreversible_lag,
            "behind": self.faults.behind,
            "source": self.store.source,
            "faults_injected": dict(self.faults_injected),
            "forks": [fork.describe(self.timeline.state[0]) for fork in self.forks],
        }

    def served_block(self, num: int) -> dict[str, Any]:
        """Block ``num`` as the node serves it now, visible or not yet (after a fork: the
        new branch)."""
        i = num - self.store.first
        if not 0 <= i < len(self.store):
            raise KeyError(num)
        state = self.timeline.state
        if i in self._corrupt:
            return json.loads(self._corrupt[i][0])
        return json.loads(self._served(i, state))

    def visibility(self) -> dict[str, dict[str, float | None]]:
        """``{"<block_num>": {"head": t, "irreversible": t or None}}`` (unix times) for
        every block that became visible so far."""
        tl, first = self.timeline, self.store.first
        out = {}
        for i, t in enumerate(tl.head_at):
            if t is not None:
                out[str(first + i)] = {"head": t, "irreversible": tl.irreversible_at[i]}
        return out

    # -- request handling ----------------------------------------------------------
    def _handle_post(self, body: bytes) -> tuple[int, bytes, bytes]:
        with self._counter_lock:
            self.requests_served += 1
        if self.latency:
            time.sleep(self.latency)
        fault = None
        if self._dice.active:
            stall, fault = self._dice.roll()
            if stall:
                self._count("stall")
                time.sleep(self.faults.stall_seconds)
            if fault is not None:
                self._count(fault)
            if fault == "http_503":
                return 503, _HTTP_503, b"text/html"
        payload = self._rpc(body, fault == "rpc_error")
        if fault == "truncated":
            payload = payload[: max(1, len(payload) // 2)]
        return 200, payload, b"application/json"

    def _count(self, kind: str) -> None:
        with self._counter_lock:
            self.faults_injected[kind] += 1

    def _rpc(self, body: bytes, internal_error: bool = False) -> bytes:
        try:
            req = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            return _error(b"null", -32700, f"Parse Error: {e}")
        if internal_error:
            id_bytes = dumps(req.get("id")) if isinstance(req, dict) else b"null"
            return _error(id_bytes, -32603, "Internal Error")
        state = self.timeline.state
        if isinstance(req, list):
            if not req:
                return _error(b"null", -32600, "Invalid Request: empty batch")
            with self._counter_lock:
                self.calls_served += len(req)
            return b"[" + b",".join(self._call(r, state) for r in req) + b"]"
        with self._counter_lock:
            self.calls_served += 1
        return self._call(req, state)

    def _call(self, req: Any, state: tuple[int, int]) -> bytes:
        if not isinstance(req, dict):
            return _error(b"null", -32600, "Invalid Request")
        id_bytes = dumps(req.get("id"))
        method = req.get("method")
        params = req.get("params")
        if not isinstance(method, str):
            return _error(id_bytes, -32600, "Invalid Request: no method")
        if method == "call":
            if not (isinstance(params, list) and len(params) >= 2):
                return _error(
                    id_bytes, -32602, "Invalid parameters: call needs [api, method, args]"
                )
            api, name = str(params[0]), str(params[1])
            params = params[2] if len(params) > 2 else []
        else:
            api, _, name = method.rpartition(".")
        handler = self._methods.get(f"{api}.{name}")
        if handler is None:
            if api and api not in _KNOWN_APIS:
                msg = (
                    f"Assert Exception:api_itr != _registered_apis.end(): Could not find API {api}"
                )
            else:
                msg = (
                    "Assert Exception:method_itr != api_itr->second.end(): "
                    f"Could not find method {name}"
                )
            return _error(id_bytes, -32601, msg)
        try:
            result = handler(params, state)
        except RpcError as e:
            return _error(id_bytes, e.code, e.message)
        return b'{"jsonrpc":"2.0","result":' + result + b',"id":' + id_bytes + b"}"

    # -- block access --------------------------------------------------------------
    def _index(self, num: int, state: tuple[int, int]) -> int | None:
        """Archive index of block ``num`` if it is served now, else None."""
        i = num - self.store.first
        if i < 0 or i > state[0]:
            return None
        if num in self.faults.null_blocks:
            times = self.faults.null_blocks_times
            if times is None:
                self._count("null_block")
                return None
            with self._counter_lock:
                left = self._null_left.get(num, times)
                if left > 0:
                    self._null_left[num] = left - 1
                    self.faults_injected["null_block"] += 1
                    return None
        return i

    def _served(self, i: int, state: tuple[int, int], condenser: bool = False) -> bytes:
        """The bytes of the block at archive index ``i`` as served now: the archive's,
        a fork's new branch, or a corrupted `previous`."""
        if self._special:
            shape = 1 if condenser else 0
            if i in self._corrupt:
                self._count("corrupt_previous")
                return self._corrupt[i][shape]
            for fork in self.forks:
                if fork.covers(i) and fork.done(state[0]):
                    return (fork.condenser if condenser else fork.appbase)[i - fork.lo]
            if i in self._after_fork:
                return self._after_fork[i][shape]
        return self.store.condenser[i] if condenser else self.store.appbase[i]

    # -- methods: each returns the JSON bytes of "result" ---------------------------
    def _m_config(self, params: Any, state: tuple[int, int]) -> bytes:
        return self._config

    def _dgp_bytes(self, state: tuple[int, int], condenser: bool) -> bytes:
        key = (state[0], state[1], condenser)
        cached = self._dgp_cache.get(key)
        if cached is None:
            d = _dgp(self.store, *state)
            if condenser:
                d = _archive._value_to_condenser(d)
            cached = dumps(d)
            if len(self._dgp_cache) > 64:
                self._dgp_cache.clear()
            self._dgp_cache[key] = cached
        return cached

    def _m_dgp(self, params: Any, state: tuple[int, int]) -> bytes:
        return self._dgp_bytes(state, False)

    def _m_dgp_condenser(self, params: Any, state: tuple[int, int]) -> bytes:
        return self._dgp_bytes(state, True)

    def _m_get_block(self, params: Any, state: tuple[int, int]) -> bytes:
        i = self._index(_num_param(params), state)
        return b"{}" if i is None else b'{"block":' + self._served(i, state) + b"}"

    def _m_get_block_condenser(self, params: Any, state: tuple[int, int]) -> bytes:
        i = self._index(_num_param(params), state)
        return b"null" if i is None else self._served(i, state, condenser=True)

    def _m_get_block_range(self, params: Any, state: tuple[int, int]) -> bytes:
        start = _num_param(params, "starting_block_num")
        count = _num_param(params, "count")
        if count > MAX_BLOCK_RANGE:
            raise RpcError(-32003, f"Assert Exception:count <= {MAX_BLOCK_RANGE}: count too big")
        parts = []
        for num in range(start, start + max(0, count)):
            i = self._index(num, state)
            if i is None:
                if num - self.store.first > state[0]:
                    break
                continue
            parts.append(self._served(i, state))
        return b'{"blocks":[' + b",".join(parts) + b"]}"

    def _header(self, params: Any, state: tuple[int, int]) -> dict[str, Any] | None:
        i = self._index(_num_param(params), state)
        if i is None:
            return None
        b = json.loads(self._served(i, state))
        keys = ("previous", "timestamp", "witness", "transaction_merkle_root", "extensions")
        return {k: b[k] for k in keys if k in b}

    def _m_get_block_header(self, params: Any, state: tuple[int, int]) -> bytes:
        h = self._header(params, state)
        return b"{}" if h is None else dumps({"header": h})

    def _m_get_block_header_condenser(self, params: Any, state: tuple[int, int]) -> bytes:
        h = self._header(params, state)
        return b"null" if h is None else dumps(_archive.to_condenser(h))

    def _ops(self, params: Any, state: tuple[int, int], condenser: bool) -> list[dict[str, Any]]:
        num = _num_param(params)
        only_virtual = False
        if isinstance(params, dict):
            only_virtual = bool(params.get("only_virtual"))
        elif isinstance(params, list) and len(params) > 1:
            only_virtual = bool(params[1])
        i = self._index(num, state)
        if i is None or only_virtual:
            return []  # the archive has no virtual operations
        b = json.loads(self._served(i, state))
        out = []
        for t, tx in enumerate(b["transactions"]):
            for o, op in enumerate(tx["operations"]):
                out.append(
                    {
                        "trx_id": b["transaction_ids"][t],
                        "block": num,
                        "trx_in_block": t,
                        "op_in_trx": o,
                        "virtual_op": 0,
                        "timestamp": b["timestamp"],
                        "op": _archive.op_to_condenser(op) if condenser else op,
                    }
                )
        return out

    def _m_ops_in_block(self, params: Any, state: tuple[int, int]) -> bytes:
        return dumps({"ops": self._ops(params, state, False)})

    def _m_ops_in_block_condenser(self, params: Any, state: tuple[int, int]) -> bytes:
        return dumps(self._ops(params, state, True))

    def _m_version(self, params: Any, state: tuple[int, int]) -> bytes:
        return dumps(
            {
                "blockchain_version": "0.23.1",
                "steem_revision": "0" * 40,  # not a real build
                "fc_revision": "0" * 40,
                "chain_id": "0" * 64,
            }
        )

    def _m_methods(self, params: Any, state: tuple[int, int]) -> bytes:
        return dumps(sorted(self._methods))
