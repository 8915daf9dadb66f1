"""The chain's constants and global state as a Steem 0.23 node reports them
(``get_config``, ``get_dynamic_global_properties``), and chain time as text."""

from __future__ import annotations

import calendar
import time
from typing import TYPE_CHECKING, Any

from ipc_config.chain import BLOCK_INTERVAL, NAI_OF_ASSET, PRECISION_OF_ASSET

from .shapes import nai_amount

if TYPE_CHECKING:
    from .store import BlockStore

__all__ = [
    "BLOCK_SECONDS",
    "CHAIN_ID",
    "chain_config",
    "dynamic_global_properties",
    "format_time",
    "parse_time",
    "shift_time",
]

# Block times are whole seconds: the interval as an int, for arithmetic on them.
BLOCK_SECONDS = int(BLOCK_INTERVAL)
CHAIN_ID = "0" * 64  # Steem's chain id: what signatures are made for
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # how Steem writes a time: UTC, no zone, seconds


def parse_time(ts: str) -> int:
    """``"2016-07-17T23:20:54"`` -> unix seconds."""
    return calendar.timegm(time.strptime(ts, TIME_FORMAT))


def format_time(epoch: int) -> str:
    return time.strftime(TIME_FORMAT, time.gmtime(epoch))


def shift_time(ts: str, seconds: int) -> str:
    return format_time(parse_time(ts) + seconds)


def _symbol(asset: str) -> dict[str, Any]:
    return {"nai": NAI_OF_ASSET[asset], "decimals": PRECISION_OF_ASSET[asset]}


def chain_config() -> dict[str, Any]:
    """A Steem 0.23 ``get_config`` answer (a representative subset of its keys)."""
    return {
        "IS_TEST_NET": False,
        "STEEM_ENABLE_SMT": False,
        "SBD_SYMBOL": _symbol("SBD"),
        "STEEM_INITIAL_VOTE_POWER_RATE": 40,
        "STEEM_REDUCED_VOTE_POWER_RATE": 10,
        "STEEM_100_PERCENT": 10000,
        "STEEM_1_PERCENT": 100,
        "STEEM_ACCOUNT_RECOVERY_REQUEST_EXPIRATION_PERIOD": 86400000000,
        "STEEM_ACTIVE_CHALLENGE_COOLDOWN": 86400000000,
        "STEEM_ACTIVE_CHALLENGE_FEE": nai_amount(2000, "STEEM"),
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
        "STEEM_BLOCK_INTERVAL": BLOCK_SECONDS,
        "STEEM_BLOCKS_PER_DAY": 28800,
        "STEEM_BLOCKS_PER_HOUR": 1200,
        "STEEM_BLOCKS_PER_YEAR": 10512000,
        "STEEM_CASHOUT_WINDOW_SECONDS": 604800,
        "STEEM_CHAIN_ID": CHAIN_ID,
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
        "STEEM_MIN_CONTENT_REWARD": nai_amount(1000, "STEEM"),
        "STEEM_MIN_CURATE_REWARD": nai_amount(1000, "STEEM"),
        "STEEM_MIN_PERMLINK_LENGTH": 0,
        "STEEM_MIN_REPLY_INTERVAL": 20000000,
        "STEEM_MIN_REPLY_INTERVAL_HF20": 3000000,
        "STEEM_MIN_ROOT_COMMENT_INTERVAL": 300000000,
        "STEEM_MIN_COMMENT_EDIT_INTERVAL": 3000000,
        "STEEM_MIN_VOTE_INTERVAL_SEC": 3,
        "STEEM_MINER_ACCOUNT": "miners",
        "STEEM_MINER_PAY_PERCENT": 100,
        "STEEM_MIN_FEEDS": 7,
        "STEEM_MINING_REWARD": nai_amount(1000, "STEEM"),
        "STEEM_MINING_TIME": "2016-03-24T17:00:00",
        "STEEM_MIN_LIQUIDITY_REWARD": nai_amount(1200000, "STEEM"),
        "STEEM_MIN_LIQUIDITY_REWARD_PERIOD_SEC": 60000000,
        "STEEM_MIN_PAYOUT_SBD": nai_amount(20, "SBD"),
        "STEEM_MIN_POW_REWARD": nai_amount(1000, "STEEM"),
        "STEEM_MIN_PRODUCER_REWARD": nai_amount(1000, "STEEM"),
        "STEEM_MIN_TRANSACTION_EXPIRATION_LIMIT": 15,
        "STEEM_MIN_TRANSACTION_SIZE_LIMIT": 1024,
        "STEEM_MIN_UNDO_HISTORY": 10,
        "STEEM_NULL_ACCOUNT": "null",
        "STEEM_NUM_INIT_MINERS": 1,
        "STEEM_OWNER_AUTH_HISTORY_TRACKING_START_BLOCK_NUM": 3186477,
        "STEEM_OWNER_AUTH_RECOVERY_PERIOD": 2592000000000,
        "STEEM_OWNER_CHALLENGE_COOLDOWN": 86400000000,
        "STEEM_OWNER_CHALLENGE_FEE": nai_amount(30000, "STEEM"),
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
        "STEEM_SYMBOL": _symbol("STEEM"),
        "VESTS_SYMBOL": _symbol("VESTS"),
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


def dynamic_global_properties(store: BlockStore, head: int, lib: int) -> dict[str, Any]:
    """``database_api.get_dynamic_global_properties`` for head/LIB indexes."""
    first = store.first
    if head >= 0:
        head_id, ts, witness = store.ids[head], store.timestamps[head], store.witnesses[head]
    else:
        head_id, ts = store.previous, shift_time(store.timestamps[0], -BLOCK_SECONDS)
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
        "virtual_supply": nai_amount(supply + supply // 50, "STEEM"),
        "current_supply": nai_amount(supply, "STEEM"),
        "confidential_supply": nai_amount(0, "STEEM"),
        "init_sbd_supply": nai_amount(0, "SBD"),
        "current_sbd_supply": nai_amount(supply // 60, "SBD"),
        "confidential_sbd_supply": nai_amount(0, "SBD"),
        "total_vesting_fund_steem": nai_amount(vesting_steem, "STEEM"),
        "total_vesting_shares": nai_amount(vesting_steem * 2_000_000, "VESTS"),
        "total_reward_fund_steem": nai_amount(supply // 1000, "STEEM"),
        "total_reward_shares2": "0",
        "pending_rewarded_vesting_shares": nai_amount(vesting_steem // 400, "VESTS"),
        "pending_rewarded_vesting_steem": nai_amount(vesting_steem // 800_000, "STEEM"),
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
        "next_maintenance_time": shift_time(ts, 3600),
        "last_budget_time": shift_time(ts, -2400),
        "content_reward_percent": 6500,
        "vesting_reward_percent": 1500,
        "sps_fund_percent": 1000,
        "sps_interval_ledger": nai_amount(0, "SBD"),
        "downvote_pool_percent": 2500,
        "current_remove_threshold": 200,
    }
