"""Settings read from the environment, validated at start.

`.env` in the working directory is loaded with python-dotenv and never overrides a
variable that is already set. A missing or malformed value raises ConfigError naming the
variable; `load()` turns that into one line on stderr and exit code 2, which the restart
loop knows not to retry (a configuration error will not fix itself).
"""

import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

from dotenv import find_dotenv, load_dotenv

EXIT_CONFIG_ERROR = 2

DEFAULT_STEEM_NODES = (
    "https://api.steemit.com",
    "https://api.justyy.com",
    "https://api.steem.fans",
    "https://steemd.steemworld.org",
)
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_NATS_STORE_DIR = ".data/jetstream"
DEFAULT_WORKER_STATE_DIR = ".data/workers"
STREAM_MODES = ("irreversible", "head")

_NODE_SCHEMES = ("http", "https")
_NATS_SCHEMES = ("nats", "tls", "ws", "wss")
_NATS_DEFAULT_PORT = 4222


class ConfigError(ValueError):
    """A setting is missing or malformed. The message names the variable."""


def redact_url(url: str) -> str:
    """The URL with any password or token replaced by `***`, safe to log."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
    masked = f"{user}:***@{host}" if user else f"***@{host}"
    return urlunsplit(parts._replace(netloc=masked))


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def _url_list(
    env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]
) -> tuple[str, ...]:
    raw = _text(env, name, default)
    urls = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not urls:
        raise ConfigError(f"{name} is empty; expected comma-separated URLs")
    for url in urls:
        shown = redact_url(url)
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as err:
            raise ConfigError(f"{name}: {shown!r} is not a valid URL ({err})") from None
        if parts.scheme not in schemes or not parts.hostname:
            expected = " or ".join(f"{s}://host" for s in schemes)
            raise ConfigError(f"{name}: {shown!r} is not a valid URL; expected {expected}")
    return urls


def _positive_int(env: Mapping[str, str], name: str, default: int | None, what: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {what} (a positive whole number)") from None
    if value < 1:
        raise ConfigError(f"{name}={raw!r} is not {what} (a positive whole number)")
    return value


def _positive_float(env: Mapping[str, str], name: str, default: float, what: str) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {what} (a positive number)") from None
    if not value > 0:
        raise ConfigError(f"{name}={raw!r} is not {what} (a positive number)")
    return value


def _replicas(env: Mapping[str, str]) -> int:
    replicas = _positive_int(env, "STREAM_REPLICAS", 1, "a replica count")
    if replicas > 5:  # JetStream's limit
        raise ConfigError(f"STREAM_REPLICAS={replicas} is more than JetStream's maximum of 5")
    return replicas


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = _text(env, name, choices[0])
    value = raw.lower()
    if value not in choices:
        raise ConfigError(f"{name}={raw!r} is not one of: {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class ChainSettings:
    """Where and how the broadcaster reads the chain."""

    nodes: tuple[str, ...]
    start_block: int | None
    mode: str
    batch_size: int
    node_timeout: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(
            nodes=_url_list(env, "STEEM_NODES", ",".join(DEFAULT_STEEM_NODES), _NODE_SCHEMES),
            start_block=_positive_int(env, "START_BLOCK", None, "a block number"),
            mode=_choice(env, "STREAM_MODE", STREAM_MODES),
            batch_size=_positive_int(env, "FETCH_BATCH_SIZE", 50, "a batch size"),
            node_timeout=_positive_float(env, "NODE_TIMEOUT", 10.0, "a timeout in seconds"),
        )

    @property
    def safe_nodes(self) -> str:
        return ", ".join(redact_url(url) for url in self.nodes)


def _readable_file(env: Mapping[str, str], name: str, what: str) -> Path | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ConfigError(f"{name}={raw!r}: no readable {what} there")
    return path


_CREDS_MARKERS = ("BEGIN NATS USER JWT", "BEGIN USER NKEY SEED")


def _creds_file(env: Mapping[str, str]) -> Path | None:
    path = _readable_file(env, "NATS_CREDS", "credentials file")
    if path is None:
        return None
    text = path.read_text(errors="replace")
    if not all(marker in text for marker in _CREDS_MARKERS):
        raise ConfigError(
            f"NATS_CREDS={str(path)!r} is not a NATS credentials file "
            "(a user JWT and an nkey seed, as `nsc` or a managed NATS writes them)"
        )
    return path


_USER_SEED = re.compile(r"SU[A-Z2-7]{56}")


def _nkey_file(env: Mapping[str, str]) -> Path | None:
    path = _readable_file(env, "NATS_NKEY", "nkey seed file")
    if path is None:
        return None
    if not _USER_SEED.fullmatch(path.read_text(errors="replace").strip()):
        raise ConfigError(
            f"NATS_NKEY={str(path)!r} does not hold a user nkey seed "
            "(one line starting with SU, as `nk -gen user` writes it)"
        )
    if env.get("NATS_CREDS", "").strip():
        raise ConfigError("NATS_NKEY and NATS_CREDS are both set; a connection uses one of them")
    return path


@dataclass(frozen=True)
class NatsSettings:
    """How a process reaches NATS, and where the local server keeps its JetStream files.

    Credentials: `nats://user:password@host` or `nats://token@host` in NATS_URL, a
    NATS_CREDS file (JWT and nkey seed, as managed NATS services hand out), or a NATS_NKEY
    seed file (a server that lists nkey users). `tls://` URLs use TLS, checked against the
    system's CAs or NATS_TLS_CA.
    """

    urls: tuple[str, ...]
    store_dir: Path
    creds_file: Path | None = None
    tls_ca_file: Path | None = None
    nkey_file: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(
            urls=_url_list(env, "NATS_URL", DEFAULT_NATS_URL, _NATS_SCHEMES),
            store_dir=Path(_text(env, "NATS_STORE_DIR", DEFAULT_NATS_STORE_DIR)),
            creds_file=_creds_file(env),
            tls_ca_file=_readable_file(env, "NATS_TLS_CA", "CA certificate file"),
            nkey_file=_nkey_file(env),
        )

    @property
    def uses_tls(self) -> bool:
        return self.tls_ca_file is not None or any(
            u.startswith(("tls://", "wss://")) for u in self.urls
        )

    @property
    def safe_urls(self) -> str:
        return ", ".join(redact_url(url) for url in self.urls)

    @property
    def local_port(self) -> int:
        """Port of the first NATS URL: the one the local `nats` process listens on."""
        return urlsplit(self.urls[0]).port or _NATS_DEFAULT_PORT

    def __repr__(self) -> str:  # never show credentials embedded in the URLs
        return (
            f"NatsSettings(urls={self.safe_urls!r}, store_dir={str(self.store_dir)!r}, "
            f"creds_file={self.creds_file!r}, tls_ca_file={self.tls_ca_file!r}, "
            f"nkey_file={self.nkey_file!r})"
        )


@dataclass(frozen=True)
class StreamSettings:
    """Limits of the STEEM stream: how long and how much it keeps, how long it dedupes."""

    max_age_hours: float
    max_bytes: int
    duplicate_window: float
    replicas: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(
            max_age_hours=_positive_float(env, "STREAM_MAX_AGE_HOURS", 168.0, "a number of hours"),
            max_bytes=_positive_int(env, "STREAM_MAX_BYTES", 5_000_000_000, "a size in bytes"),
            duplicate_window=_positive_float(
                env, "STREAM_DUPLICATE_WINDOW", 120.0, "a duration in seconds"
            ),
            replicas=_replicas(env),
        )


def worker_state_dir(env: Mapping[str, str]) -> Path:
    """WORKER_STATE_DIR: where each worker keeps the ids of the messages it handled."""
    path = Path(_text(env, "WORKER_STATE_DIR", DEFAULT_WORKER_STATE_DIR)).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"WORKER_STATE_DIR={str(path)!r} is a file, not a folder")
    return path


SettingsT = TypeVar("SettingsT", ChainSettings, NatsSettings, StreamSettings)


def log_level(env: Mapping[str, str] | None = None) -> int:
    """LOG_LEVEL as a logging level (default INFO)."""
    env = os.environ if env is None else env
    raw = _text(env, "LOG_LEVEL", "INFO").upper()
    level = logging.getLevelName(raw)
    if not isinstance(level, int):
        raise ConfigError(f"LOG_LEVEL={raw!r} is not one of: DEBUG, INFO, WARNING, ERROR")
    return level


def load_dotenv_file() -> None:
    """Load `.env` from the working directory (or a parent); never override what is set."""
    load_dotenv(find_dotenv(usecwd=True), override=False)


@contextmanager
def settings_or_exit(process: str) -> Iterator[None]:
    """Load `.env`, then read settings in the block: a ConfigError raised there becomes
    one line naming the variable and exit 2."""
    load_dotenv_file()
    try:
        yield
    except ConfigError as err:
        exit_config_error(process, err)


def load(settings_type: type[SettingsT], process: str) -> SettingsT:
    """Read one group of settings, or exit 2 with one line naming the bad variable."""
    with settings_or_exit(process):
        return settings_type.from_env(os.environ)


def exit_config_error(process: str, err: ConfigError) -> None:
    print(f"{process}: configuration error: {err}", file=sys.stderr, flush=True)
    sys.exit(EXIT_CONFIG_ERROR)
