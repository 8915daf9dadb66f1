"""The JetStream stream that holds everything the broadcaster publishes."""

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from ipc_config.contract import STREAM_NAME, STREAM_SUBJECTS
from ipc_config.settings import StreamSettings

_HOUR = 3600.0


def stream_config(settings: StreamSettings) -> StreamConfig:
    """File storage, kept by age and size (oldest dropped first), deduplicated by Nats-Msg-Id."""
    return StreamConfig(
        name=STREAM_NAME,
        subjects=list(STREAM_SUBJECTS),
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        max_age=settings.max_age_hours * _HOUR,
        max_bytes=settings.max_bytes,
        duplicate_window=settings.duplicate_window,
        num_replicas=settings.replicas,
    )
