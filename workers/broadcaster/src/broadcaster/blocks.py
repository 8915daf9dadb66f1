"""Blocks as nodes send them: now in the steem-chain library (`steem_chain.blocks`), the
one implementation every process uses. Re-exported for the broadcaster's modules."""

from steem_chain.blocks import BadBlock, Block, Operation, block_num_of, parse_block

__all__ = ["BadBlock", "Block", "Operation", "block_num_of", "parse_block"]
