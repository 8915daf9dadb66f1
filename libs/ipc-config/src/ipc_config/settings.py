"""Settings: one typed class per process, read from the environment and checked at start.

    class DownvoteSettings(WorkerSettings):
        min_weight: int = setting("DOWNVOTE_MIN_WEIGHT", "a vote weight (a whole number)", 0)

    settings = load_settings(DownvoteSettings, "downvotes")  # or exit 2 with one line

Every field names its environment variable and says in a few words what a valid value
is; pydantic-settings reads and converts them. A missing or malformed value becomes one
line that names the variable, `START_BLOCK='abc' is not a block number (a positive whole
number)`, showing no secret (`SecretStr` fields, passwords inside URLs). `.env` in the
working directory (or a parent) is loaded once, with python-dotenv, and never overrides a
variable that is already set.
"""

import ipaddress
import logging
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

from dotenv import find_dotenv, load_dotenv
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

EXIT_CONFIG_ERROR = 2

DEFAULT_STEEM_NODES = (
    "https://api.steemit.com",
    "https://api.justyy.com",
    "https://api.steem.fans",
    "https://steemd.steemworld.org",
)
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
STREAM_MODES = ("irreversible", "head")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_NODE_SCHEMES = ("http", "https")
_NATS_SCHEMES = ("nats", "tls", "ws", "wss")
_NATS_DEFAULT_PORT = 4222
_WHOLE = "(a positive whole number)"
_NUMBER = "(a positive number)"


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


def setting(variable: str, what: str, default: Any = None, **constraints: Any) -> Any:
    """A field read from `variable`; `what` completes "<VARIABLE>='x' is not ..."."""
    return Field(default, validation_alias=variable, description=what, **constraints)


def invalid(line: str) -> PydanticCustomError:
    """A whole error line written by a validator (it names the variable itself)."""
    return PydanticCustomError("setting", "{line}", {"line": line})


def _shown(value: Any) -> str:
    return repr(redact_url(value) if isinstance(value, str) else value)


class Settings(BaseSettings):
    """The base of every settings class: environment variables only, checked at start."""

    model_config = SettingsConfigDict(
        extra="ignore", frozen=True, env_ignore_empty=True, hide_input_in_errors=True
    )

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **others):  # noqa: ANN001
        """Only the mapping `from_env` is given: the environment (after `.env`) for a
        process, a test's own dict in a test, never both mixed."""
        return (init_settings,)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        """The settings `env` holds (tests, tools); ConfigError names a bad variable."""
        values = {k.upper(): v for k, v in env.items() if v.strip()}
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            raise ConfigError(error_line(cls, err)) from None

    @classmethod
    def variable_of(cls, field: str) -> str:
        return str(cls.model_fields[field].validation_alias)

    def __repr_args__(self):  # never show a password inside a URL
        for name, value in super().__repr_args__():
            if isinstance(value, tuple):
                yield name, tuple(redact_url(v) if isinstance(v, str) else v for v in value)
            else:
                yield name, redact_url(value) if isinstance(value, str) else value


def error_line(model: type[Settings], err: ValidationError) -> str:
    """The one line that says which variable is wrong and why (the first one found)."""
    first = err.errors(include_url=False, include_input=True)[0]
    if first["type"] == "setting":
        return first["ctx"]["line"]
    if not first["loc"]:  # about the whole: never show the input, it is the environment
        return f"settings are not valid ({first['msg']})"
    variable = str(first["loc"][0])
    field = _field_of(model, variable)
    what = field.description if field is not None and field.description else "valid"
    if first["type"] == "missing":
        return f"{variable} is not set; expected {what}"
    if field is not None and field.annotation in (SecretStr, SecretStr | None):
        return f"{variable} is not {what}"
    return f"{variable}={_shown(first.get('input'))} is not {what}"


def _field_of(model: type[Settings], variable: str) -> FieldInfo | None:
    for field in model.model_fields.values():
        if str(field.validation_alias).upper() == variable.upper():
            return field
    return None


SettingsT = TypeVar("SettingsT", bound=Settings)


def load_dotenv_file() -> None:
    """Load `.env` from the working directory (or a parent); never override what is set."""
    load_dotenv(find_dotenv(usecwd=True), override=False)


def load_settings(model: type[SettingsT], process: str) -> SettingsT:
    """`.env`, then the environment, as `model`; or one line naming the variable and exit 2."""
    load_dotenv_file()
    try:
        return model.from_env(os.environ)
    except ConfigError as err:
        exit_config_error(process, err)


def exit_config_error(process: str, err: Exception) -> NoReturn:
    print(f"{process}: configuration error: {err}", file=sys.stderr, flush=True)
    sys.exit(EXIT_CONFIG_ERROR)


# -- the groups every process draws from ------------------------------------------------


def _url_list(variable: str, raw: Any, schemes: tuple[str, ...]) -> tuple[str, ...]:
    text = raw if isinstance(raw, str) else ",".join(raw)
    urls = tuple(part.strip() for part in text.split(",") if part.strip())
    if not urls:
        raise invalid(f"{variable} is empty; expected comma-separated URLs")
    for url in urls:
        shown = redact_url(url)
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as err:
            raise invalid(f"{variable}: {shown!r} is not a valid URL ({err})") from None
        if parts.scheme not in schemes or not parts.hostname:
            expected = " or ".join(f"{s}://host" for s in schemes)
            raise invalid(f"{variable}: {shown!r} is not a valid URL; expected {expected}")
    return urls


def _readable_file(variable: str, raw: Any, what: str) -> Path | None:
    if raw in (None, ""):
        return None
    path = Path(str(raw)).expanduser()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise invalid(f"{variable}={str(raw)!r}: no readable {what} there")
    return path


class LogSettings(Settings):
    log_level: int = setting("LOG_LEVEL", "one of: " + ", ".join(LOG_LEVELS), logging.INFO)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, raw: Any) -> int:
        if isinstance(raw, int):
            return raw
        name = str(raw).strip().upper()
        if name not in LOG_LEVELS:
            raise invalid(f"LOG_LEVEL={name!r} is not one of: {', '.join(LOG_LEVELS)}")
        return logging.getLevelName(name)


_CREDS_MARKERS = ("BEGIN NATS USER JWT", "BEGIN USER NKEY SEED")
_USER_SEED = re.compile(r"SU[A-Z2-7]{56}")
# The bundled server's credentials, relative to the working directory like `.data/jetstream`.
LOCAL_CREDENTIALS_DIR = Path(".data", "nats-local")


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


class NatsSettings(Settings):
    """How a process reaches NATS, and where the local server keeps its JetStream files.

    Credentials: `nats://user:password@host` or `nats://token@host` in NATS_URL, a
    NATS_CREDS file (JWT and nkey seed, as managed NATS services hand out), or a NATS_NKEY
    seed file (a server that lists nkey users). `tls://` URLs use TLS, checked against the
    system's CAs or NATS_TLS_CA. Settings naming none of these may also offer the bundled
    server's own credentials (`local_credentials`).
    """

    urls: Annotated[tuple[str, ...], NoDecode] = setting(
        "NATS_URL", "comma-separated NATS URLs", (DEFAULT_NATS_URL,)
    )
    store_dir: Path = setting("NATS_STORE_DIR", "a folder", Path(".data/jetstream"))
    creds_file: Path | None = setting("NATS_CREDS", "a NATS credentials file")
    nkey_file: Path | None = setting("NATS_NKEY", "a user nkey seed file")
    tls_ca_file: Path | None = setting("NATS_TLS_CA", "a CA certificate file")

    @field_validator("urls", mode="before")
    @classmethod
    def _urls(cls, raw: Any) -> tuple[str, ...]:
        return _url_list("NATS_URL", raw, _NATS_SCHEMES)

    @field_validator("creds_file", mode="before")
    @classmethod
    def _creds(cls, raw: Any) -> Path | None:
        path = _readable_file("NATS_CREDS", raw, "credentials file")
        if path is not None:
            text = path.read_text(errors="replace")
            if not all(marker in text for marker in _CREDS_MARKERS):
                raise invalid(
                    f"NATS_CREDS={str(path)!r} is not a NATS credentials file "
                    "(a user JWT and an nkey seed, as `nsc` or a managed NATS writes them)"
                )
        return path

    @field_validator("nkey_file", mode="before")
    @classmethod
    def _nkey(cls, raw: Any) -> Path | None:
        path = _readable_file("NATS_NKEY", raw, "nkey seed file")
        if path is not None and not _USER_SEED.fullmatch(path.read_text(errors="replace").strip()):
            raise invalid(
                f"NATS_NKEY={str(path)!r} does not hold a user nkey seed "
                "(one line starting with SU, as `nk -gen user` writes it)"
            )
        return path

    @field_validator("tls_ca_file", mode="before")
    @classmethod
    def _tls_ca(cls, raw: Any) -> Path | None:
        return _readable_file("NATS_TLS_CA", raw, "CA certificate file")

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if self.nkey_file is not None and self.creds_file is not None:
            raise invalid("NATS_NKEY and NATS_CREDS are both set; a connection uses one of them")
        return self

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

    @property
    def local_credentials_file(self) -> Path:
        """Where the bundled server of this port (`nats-local`) keeps the nkey seed it
        requires: `.data/nats-local/<port>.nk`, relative to the working directory."""
        return LOCAL_CREDENTIALS_DIR / f"{self.local_port}.nk"

    def local_credentials(self, workdir: Path | None = None) -> Path | None:
        """The bundled server's seed file, to offer along with these settings; or None.

        Only settings that name no credentials of their own (none in NATS_URL, no
        NATS_CREDS, no NATS_NKEY, no TLS) and whose first URL is `nats://` on loopback
        offer it, and only if nats-local made it (in `workdir`, default the working
        directory). Offering it costs other servers nothing: a client signs with an nkey
        only the nonce of a server that asks for one, so a server without credentials is
        sent none, and the seed itself never leaves the file.
        """
        own = any("@" in urlsplit(url).netloc for url in self.urls)
        if own or self.creds_file or self.nkey_file or self.uses_tls:
            return None
        first = urlsplit(self.urls[0])
        if first.scheme != "nats" or not _is_loopback(first.hostname):
            return None
        path = (workdir or Path()) / self.local_credentials_file
        try:
            holds_seed = _USER_SEED.fullmatch(path.read_text(errors="replace").strip())
        except OSError:
            return None
        return path if holds_seed else None


class StreamSettings(Settings):
    """Limits of the STEEM stream: how long and how much it keeps, how long it dedupes."""

    max_age_hours: float = setting(
        "STREAM_MAX_AGE_HOURS", f"a number of hours {_NUMBER}", 168.0, gt=0
    )
    max_bytes: int = setting("STREAM_MAX_BYTES", f"a size in bytes {_WHOLE}", 5_000_000_000, gt=0)
    duplicate_window: float = setting(
        "STREAM_DUPLICATE_WINDOW", f"a duration in seconds {_NUMBER}", 120.0, gt=0
    )
    replicas: int = setting("STREAM_REPLICAS", f"a replica count {_WHOLE}", 1, gt=0)

    @field_validator("replicas")
    @classmethod
    def _at_most_five(cls, replicas: int) -> int:
        if replicas > 5:  # JetStream's limit
            raise invalid(f"STREAM_REPLICAS={replicas} is more than JetStream's maximum of 5")
        return replicas


class ChainSettings(Settings):
    """Where and how the chain is read: the nodes, the starting block, the mode."""

    nodes: Annotated[tuple[str, ...], NoDecode] = setting(
        "STEEM_NODES", "comma-separated node URLs", DEFAULT_STEEM_NODES
    )
    start_block: int | None = setting("START_BLOCK", f"a block number {_WHOLE}", None, gt=0)
    mode: str = setting("STREAM_MODE", "one of: " + ", ".join(STREAM_MODES), STREAM_MODES[0])
    fetch_batch_size: int = setting("FETCH_BATCH_SIZE", f"a batch size {_WHOLE}", 50, gt=0)
    node_timeout: float = setting("NODE_TIMEOUT", f"a timeout in seconds {_NUMBER}", 10.0, gt=0)
    # A cap: how many the broadcaster uses adapts to each node's latency and errors.
    max_in_flight: int = setting(
        "NODE_MAX_IN_FLIGHT", f"a number of requests in flight per node {_WHOLE}", 16, gt=0
    )
    virtual_ops: bool = setting("VIRTUAL_OPS", "true or false", True)

    @field_validator("nodes", mode="before")
    @classmethod
    def _nodes(cls, raw: Any) -> tuple[str, ...]:
        return _url_list("STEEM_NODES", raw, _NODE_SCHEMES)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, raw: Any) -> str:
        if str(raw).strip().lower() not in STREAM_MODES:
            raise invalid(f"STREAM_MODE={raw!r} is not one of: {', '.join(STREAM_MODES)}")
        return str(raw).strip().lower()

    @property
    def safe_nodes(self) -> str:
        return ", ".join(redact_url(url) for url in self.nodes)


class ServiceSettings(LogSettings, NatsSettings, StreamSettings):
    """What every long-running process needs: its log level, NATS and the stream."""


class WorkerSettings(ServiceSettings, ChainSettings):
    """A worker's settings: where it keeps what it handled, how it takes messages, and the
    nodes its handlers read the chain from (`meta.chain`).

    The delivery values override the ones its code gives `Worker(...)`; unset, the code's
    values hold.
    """

    state_dir: Path = setting("WORKER_STATE_DIR", "a folder", Path(".data/workers"))
    ack_wait: float | None = setting("WORKER_ACK_WAIT", f"a duration in seconds {_NUMBER}", gt=0)
    batch_size: int | None = setting("WORKER_BATCH_SIZE", f"a batch size {_WHOLE}", gt=0)
    max_deliver: int | None = setting("WORKER_MAX_DELIVER", f"a number of attempts {_WHOLE}", gt=0)
    retry_delay: float | None = setting("WORKER_RETRY_DELAY", f"a delay in seconds {_NUMBER}", gt=0)

    @field_validator("state_dir")
    @classmethod
    def _a_folder(cls, path: Path) -> Path:
        path = path.expanduser()
        if path.exists() and not path.is_dir():
            raise invalid(f"WORKER_STATE_DIR={str(path)!r} is a file, not a folder")
        return path
