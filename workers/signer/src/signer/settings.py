"""The signer's settings: where its keys are, the nodes, how long a transaction lives.

    settings = SignerSettings.from_env(os.environ)   # or ConfigError naming the variable
    keys = settings.read_keys()                       # [] when no key is configured

STEEM_KEYS (comma-separated WIF keys, a secret: never shown, even in errors) or
STEEM_KEYS_FILE (one WIF key per line, `#` comments allowed; refused if other users can
read it). A malformed key is refused here, by its position in the list.
"""

from pathlib import Path
from typing import Any, Self

from ipc_config import ChainSettings, WorkerSettings, setting
from ipc_config.settings import invalid
from pydantic import SecretStr, field_validator, model_validator

from signer.keys import Key, KeyProblem, parse_keys, read_key_file

# Seconds a signed transaction may wait for a block, in chain time. Short, because a
# transaction a node accepted and lost is signed anew only once an irreversible block
# past its expiration lacks it (expiration + the irreversible lag, ~45 s on Steem); long
# enough for a lagging node's older head time and a broadcast that fails over nodes.
# Pacing waits happen before signing, so a queue of votes never eats into it.
DEFAULT_EXPIRATION = 60
MAX_EXPIRATION = 3600  # STEEM_MAX_TIME_UNTIL_EXPIRATION


class SignerSettings(WorkerSettings, ChainSettings):
    keys: SecretStr | None = setting("STEEM_KEYS", "comma-separated WIF private keys")
    keys_file: Path | None = setting(
        "STEEM_KEYS_FILE", "a file of WIF private keys, one per line, readable only by you"
    )
    expiration: int = setting(
        "SIGNER_EXPIRATION",
        f"a number of seconds from 15 to {MAX_EXPIRATION}",
        DEFAULT_EXPIRATION,
        ge=15,
        le=MAX_EXPIRATION,
    )
    max_errors: int = setting(
        "SIGNER_MAX_ERRORS", "a number of attempts (a positive whole number)", 5, gt=0
    )

    @field_validator("keys")
    @classmethod
    def _keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                parse_keys(value.get_secret_value())
            except KeyProblem as problem:
                raise invalid(f"STEEM_KEYS: {problem}") from None
        return value

    @field_validator("keys_file", mode="before")
    @classmethod
    def _keys_file(cls, raw: Any) -> Path | None:
        if raw in (None, ""):
            return None
        path = Path(str(raw)).expanduser()
        try:
            read_key_file(path)
        except KeyProblem as problem:
            raise invalid(f"STEEM_KEYS_FILE={str(path)!r}: {problem}") from None
        return path

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.keys is not None and self.keys_file is not None:
            raise invalid("STEEM_KEYS and STEEM_KEYS_FILE are both set; keep one of them")
        return self

    @property
    def keys_variable(self) -> str:
        return "STEEM_KEYS_FILE" if self.keys_file is not None else "STEEM_KEYS"

    def read_keys(self) -> list[Key]:
        """The configured keys ([] when none); KeyProblem if the file changed since."""
        if self.keys is not None:
            return parse_keys(self.keys.get_secret_value())
        if self.keys_file is not None:
            return read_key_file(self.keys_file)
        return []
