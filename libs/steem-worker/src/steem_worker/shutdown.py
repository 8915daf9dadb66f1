"""SIGTERM/SIGINT as an asyncio event: stop taking work, finish what is in flight, exit 0."""

import asyncio
import logging
import signal

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_event() -> asyncio.Event:
    """An event set by the first SIGTERM or SIGINT; later ones are ignored.

    honcho signals the whole process group and the restart loop forwards the signal too,
    so a worker usually receives it twice.
    """
    loop = asyncio.get_running_loop()
    event = asyncio.Event()

    def _on_signal(signum: int) -> None:
        if not event.is_set():
            log.info("%s received; shutting down", signal.Signals(signum).name)
            event.set()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, _on_signal, signum)
    return event
