"""The JetStream streams: STEEM holds what the broadcaster publishes, STEEM_DEAD the
messages workers gave up on, STEEM_TX the actions workers ask for and their outcomes."""

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from ipc_config.contract import (
    DEAD_STREAM_NAME,
    DEAD_STREAM_SUBJECTS,
    STREAM_NAME,
    STREAM_SUBJECTS,
    TX_STREAM_NAME,
    TX_STREAM_SUBJECTS,
)
from ipc_config.settings import StreamSettings

_HOUR = 3600.0
DEAD_LETTERS_KEPT_DAYS = 30


def _on_disk(
    name: str, subjects: list[str], settings: StreamSettings, max_age: float, max_bytes: int = -1
) -> StreamConfig:
    """File storage, oldest dropped first, deduplicated by Nats-Msg-Id."""
    return StreamConfig(
        name=name,
        subjects=list(subjects),
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        max_age=max_age,
        max_bytes=max_bytes,
        duplicate_window=settings.duplicate_window,
        num_replicas=settings.replicas,
    )


def stream_config(settings: StreamSettings) -> StreamConfig:
    """The chain: kept STREAM_MAX_AGE_HOURS and up to STREAM_MAX_BYTES."""
    max_age = settings.max_age_hours * _HOUR
    return _on_disk(STREAM_NAME, STREAM_SUBJECTS, settings, max_age, settings.max_bytes)


def dead_stream_config(settings: StreamSettings) -> StreamConfig:
    """Dead letters are few and precious: kept 30 days (or until replayed)."""
    max_age = DEAD_LETTERS_KEPT_DAYS * 24 * _HOUR
    return _on_disk(DEAD_STREAM_NAME, DEAD_STREAM_SUBJECTS, settings, max_age)


def tx_stream_config(settings: StreamSettings) -> StreamConfig:
    """Requests for actions and their outcomes: kept as long as the chain's messages
    (the signer's own store keeps each request's state for good)."""
    return _on_disk(TX_STREAM_NAME, TX_STREAM_SUBJECTS, settings, settings.max_age_hours * _HOUR)


def all_stream_configs(settings: StreamSettings) -> list[StreamConfig]:
    """Every stream, in the order to create them: STEEM first, so that a STEEM made when
    it held all of `steem.>` gives those subjects up before the others claim them."""
    return [stream_config(settings), dead_stream_config(settings), tx_stream_config(settings)]
