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
        # Ignored from now on, by the OS: closing the loop would otherwise restore the
        # defaults, and a forwarded copy landing after it would end the process with a
        # KeyboardInterrupt traceback (SIGINT) or kill it mid-exit (SIGTERM).
        for stop_signal in STOP_SIGNALS:
            loop.remove_signal_handler(stop_signal)
            signal.signal(stop_signal, signal.SIG_IGN)

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, _on_signal, signum)
    return event
