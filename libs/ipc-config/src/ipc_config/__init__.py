"""The contract every steem-bot process shares.

Settings from the environment (and `.env`), NATS subject names, the JetStream streams and
their configuration, header names, the message-id scheme, and facts of the chain
(`ipc_config.chain`). No process logic lives here.

Names are loaded on first use (PEP 562): `from ipc_config.backoff import Backoff` costs
the restart loop nothing of pydantic or nats-py.
"""

import importlib
from typing import TYPE_CHECKING, Any

_CONTRACT = [
    "BLOCK_SUBJECT",
    "BROADCASTER_STATUS_KEY",
    "DEAD_STREAM_NAME",
    "DEAD_SUBJECT_PREFIX",
    "FORK_SUBJECT",
    "HEADER_BLOCK_ID",
    "HEADER_BLOCK_NUM",
    "HEADER_COMMENT",
    "COMMENT_CREATED",
    "COMMENT_EDITED",
    "COMMENT_GONE",
    "HEADER_DEAD_DELIVERIES",
    "HEADER_DEAD_ERROR",
    "HEADER_DEAD_SEQ",
    "HEADER_DEAD_SUBJECT",
    "HEADER_MSG_ID",
    "HEADER_ORIGINAL_MSG_ID",
    "HEADER_TIMESTAMP",
    "HEADER_TRX_ID",
    "INVALID_SUBJECT",
    "LEASE_BUCKET",
    "LEASE_KEY",
    "LEASE_TTL",
    "OP_SUBJECT_PREFIX",
    "POSITIONS_BUCKET",
    "PROCESS_STATUS_PREFIX",
    "REPLAY_SUBJECT_PREFIX",
    "STATUS_BUCKET",
    "STATUS_INTERVAL",
    "STATUS_TTL",
    "STREAM_NAME",
    "STREAM_SUBJECTS",
    "VOP_SUBJECT_PREFIX",
    "block_msg_id",
    "dead_subject",
    "op_msg_id",
    "operation_key",
    "op_subject",
    "op_type_name",
    "process_status_key",
    "replay_subject",
    "vop_msg_id",
    "vop_subject",
    "worker_name_is_valid",
]
_CONTRACT += [
    "HEADER_REQUEST_ID",
    "TX_BUCKET",
    "TX_FAILED_PREFIX",
    "TX_INCLUDED_PREFIX",
    "TX_REQUEST_PREFIX",
    "TX_STREAM_NAME",
    "TX_STREAM_SUBJECTS",
    "tx_failed_subject",
    "tx_included_subject",
    "tx_request_subject",
]
_SETTINGS = [
    "ChainSettings",
    "ConfigError",
    "LogSettings",
    "NatsSettings",
    "ServiceSettings",
    "Settings",
    "StreamSettings",
    "WorkerSettings",
    "load_settings",
    "setting",
]
_STREAM = [
    "all_stream_configs",
    "tx_stream_config",
    "dead_stream_config",
    "stream_config",
]
_MODULE_OF = {
    **dict.fromkeys(_CONTRACT, "contract"),
    **dict.fromkeys(_SETTINGS, "settings"),
    **dict.fromkeys(_STREAM, "stream"),
}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'ipc_config' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ipc_config.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from ipc_config.contract import *  # noqa: F403
    from ipc_config.settings import *  # noqa: F403
    from ipc_config.stream import *  # noqa: F403
