"""The end of a request: written as final in the store, then told to the worker that
asked, on `steem.tx.included.<worker>` or `steem.tx.failed.<worker>`.

    outcomes = Outcomes(js, store, view)
    await outcomes.include(record, block_num, block_id)
    await outcomes.fail(record, "no such post")

Three steps, each safe to repeat: the final state is written (`told` false), the outcome
published (its Nats-Msg-Id makes a repeat within the stream's duplicate window a no-op),
then `told` written. A crash between them leaves a final record not told, which the next
signer to see it tells (`tell_pending`). Published after the write, an outcome is never
contradicted by the store: two signers racing for one record cannot tell two stories.
"""

import json
import logging

from ipc_config import (
    HEADER_BLOCK_NUM,
    HEADER_MSG_ID,
    HEADER_REQUEST_ID,
    tx_failed_subject,
    tx_included_subject,
)
from nats.js import JetStreamContext

from signer.records import FAILED, INCLUDED, Record
from signer.store import TxStore
from signer.view import View

log = logging.getLogger(__name__)

_PUBLISH_TIMEOUT = 5.0


def outcome_message(record: Record) -> tuple[str, bytes, dict[str, str]]:
    """Subject, body and headers of a final record's outcome."""
    body = {"id": record.id, "account": record.account, "operations": record.operations}
    headers = {HEADER_REQUEST_ID: record.id}
    if record.state == INCLUDED:
        body.update(trx_id=record.trx_id, block_num=record.block_num, block_id=record.block_id)
        headers[HEADER_MSG_ID] = f"included/{record.id}/{record.block_id}"
        headers[HEADER_BLOCK_NUM] = str(record.block_num)
        subject = tx_included_subject(record.worker)
    else:
        body.update(reason=record.reason)
        headers[HEADER_MSG_ID] = f"failed/{record.id}"
        subject = tx_failed_subject(record.worker)
    return subject, json.dumps(body).encode(), headers


class Outcomes:
    def __init__(self, js: JetStreamContext, store: TxStore, view: View) -> None:
        self._js = js
        self._store = store
        self._view = view

    async def include(self, record: Record, block_num: int, block_id: str) -> bool:
        """A block holds the record's transaction. False if another write came first."""
        done = await self._final(
            record, state=INCLUDED, block_num=block_num, block_id=block_id, reason=""
        )
        if done is None:
            return False
        log.info("included %s in block %d (trx %s)", record.id, block_num, record.trx_id)
        await self.tell(done)
        return True

    async def fail(self, record: Record, reason: str) -> bool:
        """The request cannot be done: told once, never tried again."""
        done = await self._final(record, state=FAILED, reason=reason)
        if done is None:
            return False
        log.warning("failed %s (%s): %s", record.id, record.describe(), reason)
        await self.tell(done)
        return True

    async def tell(self, record: Record) -> None:
        subject, data, headers = outcome_message(record)
        await self._js.publish(subject, data, headers=headers, timeout=_PUBLISH_TIMEOUT)
        told = await self._store.update(record, told=True)
        if told is not None:
            self._view.remember(told)
        else:
            await self.refresh(record.key)

    async def tell_pending(self) -> None:
        """Tell the final records nobody told yet (a signer stopped between the steps)."""
        for record in list(self._view.open.values()):
            if record.final and not record.told:
                await self.tell(record)

    async def refresh(self, key: str) -> None:
        latest = await self._store.read(key)
        if latest is not None:
            self._view.remember(latest)

    async def _final(self, record: Record, **changes: object) -> Record | None:
        done = await self._store.update(record, told=False, claim=None, **changes)
        if done is None:
            await self.refresh(record.key)
            return None
        self._view.remember(done)
        return done
