"""Reading the chain from Steem API nodes: now in the steem-chain library, the one
implementation every process uses (failover, short failure reasons, several batches in
flight). Re-exported for the broadcaster's modules."""

from steem_chain import ChainReader, NodeClient, NodeError, NodePool, Stopped, Tip, describe
from steem_chain.pool import OFFLINE_HINT

__all__ = [
    "OFFLINE_HINT",
    "ChainReader",
    "NodeClient",
    "NodeError",
    "NodePool",
    "Stopped",
    "Tip",
    "describe",
]
