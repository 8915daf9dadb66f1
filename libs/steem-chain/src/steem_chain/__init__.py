"""The Steem chain, read from API nodes with beem: the one implementation every process uses.

- `blocks`: a node's block turned into a `Block` of `Operation`s, checked to be the one
  asked for.
- `node`: one node through beem's NodeRPC (fail fast); `reasons`: what went wrong, in a
  few words (`host name not found`, `timed out after 10 s`, `HTTP 503`).
- `pool`: the nodes of STEEM_NODES, their health, failover and the log lines;
  `health`: how much each node is asked (requests in flight, blocks per request).
- `reader.ChainReader`: reads with failover (tip, blocks, post, accounts, properties);
  `aio.AsyncChain`: the same for asyncio code.
- `fetch.BlockFetcher`: several batches in flight across nodes, handed over in order.
"""

from steem_chain.aio import AsyncChain
from steem_chain.blocks import BadBlock, Block, Operation, parse_block
from steem_chain.fetch import BlockFetcher, Span
from steem_chain.node import NodeClient, Tip
from steem_chain.pool import OFFLINE_HINT, Node, NodePool
from steem_chain.reader import ChainReader, RequestRefused
from steem_chain.reasons import NodeError, Stopped, Trouble, classify, describe

__all__ = [
    "OFFLINE_HINT",
    "AsyncChain",
    "BadBlock",
    "Block",
    "BlockFetcher",
    "ChainReader",
    "Node",
    "NodeClient",
    "NodeError",
    "NodePool",
    "Operation",
    "RequestRefused",
    "Span",
    "Stopped",
    "Tip",
    "Trouble",
    "classify",
    "describe",
    "parse_block",
]
