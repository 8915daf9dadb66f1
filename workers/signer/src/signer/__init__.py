"""The signer: the one steem-bot process that holds keys (see docs/acting.md).

- `settings`: STEEM_KEYS / STEEM_KEYS_FILE, SIGNER_EXPIRATION, SIGNER_MAX_ERRORS;
- `keys`: keys read, checked against the chain's authorities, never shown;
- `transactions`: one transaction built and signed offline (TaPoS, expiration, id);
- `node`: broadcasts and reads through the nodes, with failover;
- `rejections`: what steemd's refusals mean; `pacing`: each account's pace in chain time;
- `records`, `store`, `view`: each request's record, in the bucket `steem_tx` and in memory;
- `outcomes`: the final states, told on steem.tx.included / steem.tx.failed;
- `engine`: the loop that takes each request from received to included or failed;
- `cli`: the worker (`signer`).
"""
