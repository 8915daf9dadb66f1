"""The credentials the bundled server requires: one nkey per port, made at its first start.

    local = ensure_credentials(settings)   # LocalCredentials, or CredentialsError
    nats-server --config local.config_file ...

The first time nats-local serves a port it makes a user nkey (Ed25519, its seed 32 bytes
from `secrets`), stores the seed in `.data/nats-local/<port>.nk` (the folder 0700, the
file 0600; the place is `NatsSettings.local_credentials_file`, where every client of the
checkout looks too) and reuses it at every later start. The server is given only the
public key, in `<port>.conf` next to it: a client proves it holds the seed by signing
the nonce the server sends, so the seed never leaves the file, not even towards the
server. Nothing here ever prints, logs or raises with the seed in it.

Keyed by port, not by store: the Procfile and Procfile.replay serve different ports, and
Procfile.replay wipes its store at every start while its clients know only its port.
"""

import contextlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

import nkeys
from ipc_config.settings import NatsSettings

SEED_BYTES = 32  # an Ed25519 seed


class CredentialsError(Exception):
    """The stored credentials cannot be used; the message says what to do (no secret)."""


@dataclass(frozen=True)
class LocalCredentials:
    seed_file: Path
    config_file: Path
    public_key: str
    made: bool  # True at the first start: the seed was made just now


def ensure_credentials(settings: NatsSettings) -> LocalCredentials:
    """The seed of this port's bundled server, made if missing; its server config written."""
    seed_file = settings.local_credentials_file
    try:
        seed_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        made = _make_seed(seed_file)
        public_key = _public_key(seed_file)
        config_file = seed_file.with_suffix(".conf")
        _write_config(config_file, public_key)
    except OSError as err:
        raise CredentialsError(f"{seed_file}: {err.strerror or err}") from None
    return LocalCredentials(seed_file, config_file, public_key, made)


def _make_seed(path: Path) -> bool:
    """Store a new seed at `path` unless one is there; True if made.

    Written in full to a private temporary file, then linked into place: a client never
    reads half a seed, and of two nats-local starting at once one seed wins."""
    if path.exists():
        return False
    seed = nkeys.encode_seed(secrets.token_bytes(SEED_BYTES), nkeys.PREFIX_BYTE_USER)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(seed + b"\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:  # another nats-local made one meanwhile: theirs it is
            return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return True


def _public_key(path: Path) -> str:
    """The public key of the seed at `path`, once it is known to be ours and private."""
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise CredentialsError(f"{path} is not a regular file; delete it for new credentials")
    if info.st_uid != os.getuid():
        raise CredentialsError(f"{path} belongs to another user; delete it for new credentials")
    if info.st_mode & 0o077:
        raise CredentialsError(
            f"{path} can be read by others (mode {stat.S_IMODE(info.st_mode):04o}); "
            "delete it for new credentials (or chmod 600 it)"
        )
    try:
        pair = nkeys.from_seed(bytearray(path.read_bytes().strip()))
    except (nkeys.NkeysError, ValueError):  # never their text: it could quote the file
        raise CredentialsError(
            f"{path} does not hold an nkey seed; delete it for new credentials"
        ) from None
    try:
        public = pair.public_key.decode()
    finally:
        pair.wipe()
    if not public.startswith("U"):
        raise CredentialsError(f"{path} holds no user nkey seed; delete it for new credentials")
    return public


def _write_config(path: Path, public_key: str) -> None:
    """nats-server's configuration: the one nkey user it lets in (public key only)."""
    text = (
        "# Written by nats-local at each start: the one user this server lets in.\n"
        f'authorization {{ users = [ {{ nkey: "{public_key}" }} ] }}\n'
    )
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
