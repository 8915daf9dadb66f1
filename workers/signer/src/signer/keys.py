"""The private keys: read, checked against the chain, and never shown.

    keys = read_keys(settings)                    # from STEEM_KEYS or STEEM_KEYS_FILE
    ring = await key_ring(keys, node, "STEEM_KEYS")   # which account and authority holds each
    key = ring.key_for("alice", "posting")        # a Key, or None: no key can sign that

A `Key` shows its public key (`STM...`) and its position in the list, never the private
one: not in `repr`, `str`, an f-string or an exception. beem's own objects do show it
(`repr(PrivateKey(...))` is the secret in hex, and `Signed_Transaction.sign` keeps the
keys on the transaction), so beem is only handed a key inside `Key.sign`, and what
beem raises about a key is replaced by a message of ours (`from None`: no context either).

A key is refused, as one line naming the variable and the key's position, when it is not
a WIF private key (`KeyProblem`, at settings time) or when no account on the node holds it
in its owner, active or posting authority (`ConfigError`, at start).
"""

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ipc_config import ConfigError

log = logging.getLogger(__name__)

ROLES = ("owner", "active", "posting")
# Which authorities can sign for an operation needing `authority`: steemd accepts a
# higher one in place of a lower one (posting < active < owner), preferring the lowest.
USABLE = {"posting": ("posting", "active", "owner"), "active": ("active", "owner")}


class KeyProblem(ValueError):
    """A key that cannot be used; the message names its position, never the key."""


class Key:
    """One private key, shown as its public key."""

    __slots__ = ("_wif", "position", "public")

    def __init__(self, wif: str, position: int) -> None:
        from beemgraphenebase.account import PrivateKey  # imported late: a slow import

        try:
            private = PrivateKey(wif.strip(), prefix="STM")
            public = format(private.pubkey, "STM")
        except Exception:  # beem's errors may quote what they were given
            raise KeyProblem(f"key {position} is not a WIF private key") from None
        self._wif = str(private)
        self.position = position
        self.public = public

    def sign(self, message: bytes) -> bytes:
        """beem's compact signature (65 bytes) of sha256(`message`)."""
        from beemgraphenebase.ecdsasig import sign_message

        try:
            return sign_message(message, self._wif)
        except Exception as err:
            raise KeyProblem(f"key {self.position} cannot sign ({type(err).__name__})") from None

    def __repr__(self) -> str:
        return f"Key({self.position}: {self.public})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled, copied to another process or a file
        raise TypeError("a Key is not serialisable")


def parse_keys(text: str, what: str = "key") -> list[Key]:
    """Keys separated by commas or line breaks (blank lines and `#` comments skipped);
    KeyProblem names the first bad one by its position."""
    keys: list[Key] = []
    for line in text.replace(",", "\n").splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        keys.append(Key(entry, len(keys) + 1))
    if not keys:
        raise KeyProblem(f"holds no {what}")
    seen: set[str] = set()
    for key in keys:
        if key.public in seen:
            raise KeyProblem(f"key {key.position} is given twice")
        seen.add(key.public)
    return keys


def check_key_file(path: Path) -> None:
    """Refuse a key file that other users could read (or that is not a file)."""
    try:
        info = path.stat()
    except OSError as err:
        raise KeyProblem(f"cannot be read ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyProblem("is not a file")
    if info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        mode = stat.S_IMODE(info.st_mode)
        raise KeyProblem(f"is readable by other users (mode {mode:o}); run: chmod 600 {path}")
    if not os.access(path, os.R_OK):
        raise KeyProblem("cannot be read (permission denied)")


def read_key_file(path: Path) -> list[Key]:
    check_key_file(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise KeyProblem(f"cannot be read ({err.strerror})") from None
    return parse_keys(text)


class KeyRing:
    """Which key signs for which account and authority."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], Key] = {}

    def add(self, account: str, role: str, key: Key) -> None:
        self._keys.setdefault((account, role), key)

    def key_for(self, account: str, authority: str) -> Key | None:
        for role in USABLE.get(authority, ()):
            if (account, role) in self._keys:
                return self._keys[(account, role)]
        return None

    def accounts(self) -> dict[str, list[str]]:
        """Account -> the roles we hold keys for, in ROLES order."""
        found: dict[str, list[str]] = {}
        for role in ROLES:
            for account, held in self._keys:
                if held == role:
                    found.setdefault(account, []).append(role)
        return dict(sorted(found.items()))

    def __repr__(self) -> str:
        return f"KeyRing({self.accounts()})"


def roles_holding(account: dict[str, Any], public: str) -> list[str]:
    """The authorities of `account` that `public` alone satisfies (weight >= threshold)."""
    roles = []
    for role in ROLES:
        authority = account.get(role) or {}
        threshold = authority.get("weight_threshold", 1)
        for entry in authority.get("key_auths") or []:
            pair = isinstance(entry, list | tuple) and len(entry) == 2
            if pair and entry[0] == public and entry[1] >= threshold:
                roles.append(role)
    return roles


def build_ring(
    keys: Iterable[Key],
    references: list[list[str]],
    accounts: dict[str, dict[str, Any] | None],
    variable: str,
) -> KeyRing:
    """The ring from the node's answers: `references[i]` the accounts that list key i,
    `accounts` those accounts. ConfigError for a key no account's authority holds."""
    ring = KeyRing()
    for key, names in zip(keys, references, strict=True):
        held = False
        for name in names:
            account = accounts.get(name)
            for role in roles_holding(account or {}, key.public):
                ring.add(name, role, key)
                held = True
        if not held:
            raise ConfigError(
                f"{variable}: key {key.position} (public key {key.public}) is held by no "
                "account's owner, active or posting authority on the node"
            )
    return ring
