"""`Meta`: what a handler knows about the message in hand besides its body.

    @worker.on("vote")
    async def print_vote(op: dict, meta: Meta) -> None:
        print(meta.block_num, meta.timestamp, meta.trx_id, meta.settings.log_level)
        await meta.act(vote("me", op["author"], op["permlink"]))   # see steem_worker.actions

Read from the headers the broadcaster writes (see `ipc_config.contract`), plus the
delivery count, the worker's settings and the way to ask for actions.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ipc_config import (
    HEADER_BLOCK_ID,
    HEADER_BLOCK_NUM,
    HEADER_TIMESTAMP,
    HEADER_TRX_ID,
    operation_key,
)
from nats.aio.msg import Msg

from steem_worker.actions import Action, Actor, Publish
from steem_worker.delivery import message_id


@dataclass(frozen=True)
class Meta:
    subject: str  # `steem.op.comment`, `steem.block`, ...: where it was published
    type: str  # `comment`, `producer_reward`, `block`, `fork`
    msg_id: str  # `<block id>/<trx index>/<op index>` for an operation; unique
    block_num: int
    block_id: str
    trx_id: str  # empty for what no transaction carries (virtual operations, blocks)
    timestamp: str  # the block's, as the chain wrote it: `2016-07-17T23:20:54`
    delivery: int = 1  # 1 on first delivery, more after a crash or a retry
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    settings: Any = field(default=None, repr=False)  # the worker's settings
    _actor: Actor | None = field(default=None, repr=False, compare=False)
    _context: Any = field(default=None, repr=False, compare=False)

    @property
    def chain(self) -> Any:
        """Read-only chain calls on STEEM_NODES, with the broadcaster's failover:
        `await meta.chain.post(author, permlink)`, `.account(name)`,
        `.dynamic_global_properties()` (see `steem_chain.aio.AsyncChain`)."""
        if self._context is None:
            raise RuntimeError("meta.chain works on the meta a worker hands its handler")
        return self._context.chain

    async def act(self, action: Action) -> str:
        """Ask the signer for `action` (vote(...), transfer(...)...); the request is stored
        when this returns its id. See `steem_worker.actions`."""
        if self._actor is None:
            raise RuntimeError("act() works on the meta a worker hands its handler")
        return await self._actor(action)

    @classmethod
    def of(
        cls, msg: Msg, subject: str, settings: Any, worker: str, publish: Publish, context: Any
    ) -> "Meta":
        """The meta of `msg`, published on `subject` (a replayed dead letter's own), for
        `worker`, whose requests `publish` stores; `context.chain` answers `meta.chain`."""
        headers = dict(msg.headers or {})
        msg_id, trx_id = message_id(msg), headers.get(HEADER_TRX_ID, "")
        timestamp = headers.get(HEADER_TIMESTAMP, "")
        actor = Actor(worker, operation_key(msg_id, trx_id), timestamp, publish)
        return cls(
            subject=subject,
            type=subject.rsplit(".", 1)[-1],
            msg_id=msg_id,
            block_num=int(headers.get(HEADER_BLOCK_NUM, 0) or 0),
            block_id=headers.get(HEADER_BLOCK_ID, ""),
            trx_id=trx_id,
            timestamp=timestamp,
            delivery=msg.metadata.num_delivered or 1,
            headers=headers,
            settings=settings,
            _actor=actor,
            _context=context,
        )
