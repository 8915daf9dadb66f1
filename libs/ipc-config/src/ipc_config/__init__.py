"""The contract every steem-bot process shares.

Settings from the environment (and `.env`), NATS subject names, the JetStream stream and
its configuration, header names and the message-id scheme. No process logic lives here.
"""

from ipc_config.contract import (
    BLOCK_SUBJECT,
    BROADCASTER_STATUS_KEY,
    FORK_SUBJECT,
    HEADER_BLOCK_ID,
    HEADER_BLOCK_NUM,
    HEADER_MSG_ID,
    HEADER_TIMESTAMP,
    HEADER_TRX_ID,
    INVALID_SUBJECT,
    LEASE_BUCKET,
    LEASE_KEY,
    LEASE_TTL,
    OP_SUBJECT_PREFIX,
    PROCESS_STATUS_PREFIX,
    STATUS_BUCKET,
    STATUS_INTERVAL,
    STATUS_TTL,
    STREAM_NAME,
    STREAM_SUBJECTS,
    block_msg_id,
    op_msg_id,
    op_subject,
    op_type_name,
    process_status_key,
)
from ipc_config.settings import (
    ChainSettings,
    ConfigError,
    NatsSettings,
    StreamSettings,
    load,
)
from ipc_config.stream import stream_config

__all__ = [
    "BLOCK_SUBJECT",
    "BROADCASTER_STATUS_KEY",
    "PROCESS_STATUS_PREFIX",
    "STATUS_BUCKET",
    "STATUS_INTERVAL",
    "STATUS_TTL",
    "process_status_key",
    "FORK_SUBJECT",
    "HEADER_BLOCK_ID",
    "HEADER_BLOCK_NUM",
    "HEADER_MSG_ID",
    "HEADER_TIMESTAMP",
    "HEADER_TRX_ID",
    "INVALID_SUBJECT",
    "LEASE_BUCKET",
    "LEASE_KEY",
    "LEASE_TTL",
    "OP_SUBJECT_PREFIX",
    "STREAM_NAME",
    "STREAM_SUBJECTS",
    "ChainSettings",
    "ConfigError",
    "NatsSettings",
    "StreamSettings",
    "block_msg_id",
    "load",
    "op_msg_id",
    "op_subject",
    "op_type_name",
    "stream_config",
]
