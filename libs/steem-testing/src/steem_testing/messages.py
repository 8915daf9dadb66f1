"""Messages shaped as the broadcaster publishes them, for tests.

subject, payload, headers = op_message("comment", {"author": "a", ...}, block_num=10)
"""

import json
from typing import Any

from ipc_config import (
    HEADER_BLOCK_ID,
    HEADER_BLOCK_NUM,
    HEADER_MSG_ID,
    HEADER_TIMESTAMP,
    HEADER_TRX_ID,
    op_msg_id,
    op_subject,
)

TIMESTAMP = "2016-07-17T12:00:00"


def block_id_of(block_num: int) -> str:
    """A made-up block id that starts, as real ones do, with the number in 8 hex digits."""
    return f"{block_num:08x}" + "ab" * 16


def op_headers(
    block_num: int = 1, trx_index: int = 0, op_index: int = 0, timestamp: str = TIMESTAMP
) -> dict[str, str]:
    block_id = block_id_of(block_num)
    return {
        HEADER_MSG_ID: op_msg_id(block_id, trx_index, op_index),
        HEADER_BLOCK_NUM: str(block_num),
        HEADER_BLOCK_ID: block_id,
        HEADER_TRX_ID: f"{block_num:08x}{trx_index:032x}",
        HEADER_TIMESTAMP: timestamp,
    }


def op_message(
    op_type: str, body: Any, block_num: int = 1, trx_index: int = 0, op_index: int = 0
) -> tuple[str, bytes, dict[str, str]]:
    """`(subject, payload, headers)` of one operation."""
    return (
        op_subject(op_type),
        json.dumps(body).encode(),
        op_headers(block_num, trx_index, op_index),
    )
