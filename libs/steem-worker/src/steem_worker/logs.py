"""Logging for a micro-process: one line per event on stderr, with the process name.

stdout stays free for the process's output (the bot prints one URL per line there).
Credentials inside URLs (`nats://user:secret@host`) are masked in every line.
"""

import logging
import re
import sys

_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)([^\s/@]+)@", re.IGNORECASE)
# Libraries that narrate every retry; we log failures ourselves, once, with the reason.
_CHATTY_LOGGERS = ("beemapi", "beem", "urllib3", "nats")


def mask_secrets(text: str) -> str:
    """Replace passwords and tokens in URLs with `***`, keeping the user name."""

    def _mask(match: re.Match[str]) -> str:
        userinfo = match.group(2)
        user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
        return f"{match.group(1)}{user + ':' if user else ''}***@"

    return _URL_USERINFO.sub(_mask, text)


class _MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


def setup_logging(process: str, level: int = logging.INFO) -> logging.Logger:
    """Send all logging to stderr as `time process LEVEL message`; return the process logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _MaskingFormatter(f"%(asctime)s {process} %(levelname)s %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return logging.getLogger(process)
