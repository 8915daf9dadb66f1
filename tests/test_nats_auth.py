"""Credentials for a remote or managed NATS, against real nats-server processes.

- user/password and token in NATS_URL: right ones work and never show in a log line (URLs
  are printed as `bob:***@`); wrong or missing ones stop the process with exit code 2 and
  one clear line, and its restart loop does not restart it.
- TLS (`tls://` with NATS_TLS_CA), here with a self-signed certificate made by openssl.
- NATS_CREDS: a `.creds` file (user JWT and nkey seed), as managed NATS services hand
  out, against a server in operator (JWT) mode. The operator, account and user keys and
  JWTs are made here with Ed25519 from pycryptodomex (already installed, for beem), as
  `nsc` would make them. A missing file, or one that is not a creds file, is a
  configuration error.
- NATS_NKEY: a file holding a user nkey seed, against a server that lists nkey users.
"""

import base64
import hashlib
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from Cryptodome.PublicKey import ECC
from Cryptodome.Signature import eddsa
from replay_node.archive import load_archive
from replay_node.generate import generate_archive
from steem_testing.oracle import expected_posts
from steem_testing.paths import BIN
from steem_testing.processes import Proc
from steem_testing.servers import NatsServer, free_port
from steem_testing.waiting import wait_until

SECRET = "s3cret-Pa55word"
TOKEN = "t0ken-8d1f2a77"
WRONG = "not-the-s3cret"
WORKERS = ("broadcaster", "bot")


def start_nats(procs, tmp_path: Path, *args, config: Path | None = None) -> int:
    """A real nats-server with JetStream on a free loopback port; returns the port."""
    port = free_port()
    NatsServer(procs, tmp_path / f"nats-{port}", port, args, config).start()
    return port


def small_chain(tmp_path: Path, replay_node) -> tuple[str, list[str]]:
    """A replay node serving 20 blocks at once; returns its URL and the expected posts."""
    archive = tmp_path / "chain.jsonl"
    generate_archive(archive, count=20, start=5000, seed=11)
    node = replay_node(archive, "--pace", "0")
    return node.url, expected_posts(load_archive(archive))


def start_workers(procs, env: dict[str, str]) -> dict[str, Proc]:
    """Broadcaster and bot, each under its restart loop, as the Procfile runs them."""
    return {
        name: procs(
            [BIN / "restart-loop", "--name", name, "--", name],
            env={"RESTART_DELAY": "0.2", **env},
            name=name,
        )
        for name in WORKERS
    }


def posts_of(bot: Proc) -> list[str]:
    return [line for line in bot.stdout.text().splitlines() if line.startswith("https://")]


def all_output(*loops: Proc) -> str:
    return "\n".join(p.stdout.text() + "\n" + p.stderr.text() for p in loops)


def run_and_check_posts(procs, env: dict[str, str], posts: list[str]) -> dict[str, Proc]:
    loops = start_workers(procs, env)

    def done() -> bool:
        for loop in loops.values():  # a crash would only be retried: fail now, with its log
            assert "Traceback" not in loop.stderr.text(), loop.stderr.text()
            assert " exited with code " not in loop.stderr.text(), loop.stderr.text()
        return len(posts_of(loops["bot"])) >= len(posts)

    wait_until(done, 45, "every post printed")
    for loop in loops.values():
        assert loop.stop() == 0
    assert posts_of(loops["bot"]) == posts
    for name, loop in loops.items():
        assert loop.stderr.text().count(f"restart-loop[{name}]: started") == 1
        assert "restarted" not in loop.stderr.text()
    return loops


def assert_refused(loops: dict[str, Proc], shown_url: str, secrets: list[str]) -> None:
    """Each loop exits 2 at once: one line from the worker, no restart, no secret shown."""
    for name, loop in loops.items():
        assert loop.wait(30) == 2, loop.stderr.text()
        lines = loop.stderr.text().splitlines()
        own = [line for line in lines if not line.startswith(f"restart-loop[{name}]: ")]
        assert len(own) == 1, lines
        assert own[0].startswith(
            f"{name}: configuration error: NATS at {shown_url} refused our credentials"
        ), own[0]
        not_restarting = f"{name} exited with code 2 (configuration error); not restarting"
        assert lines.count(f"restart-loop[{name}]: {not_restarting}") == 1, lines
        assert sum("restart-loop" in line and "started" in line for line in lines) == 1, lines
        assert loop.stdout.text() == ""
    for secret in secrets:
        assert secret not in all_output(*loops.values())


def assert_config_error(loops: dict[str, Proc], expected: str) -> None:
    """Each loop exits 2: one `configuration error: <expected...>` line, no restart."""
    for name, loop in loops.items():
        assert loop.wait(15) == 2, loop.stderr.text()
        lines = loop.stderr.text().splitlines()
        own = [line for line in lines if not line.startswith(f"restart-loop[{name}]: ")]
        assert len(own) == 1 and re.match(rf"{name}: configuration error: {expected}", own[0]), (
            lines
        )
        assert "not restarting" in lines[-1]


AUTH_KINDS = {
    # server options, credentials in the URL, how a log line shows them, wrong credentials
    "user-password": (
        ["--user", "bob", "--pass", SECRET],
        f"bob:{SECRET}@",
        "bob:***@",
        f"bob:{WRONG}@",
    ),
    "token": (["--auth", TOKEN], f"{TOKEN}@", "***@", f"{WRONG}@"),
}


@pytest.mark.parametrize("kind", AUTH_KINDS)
def test_right_credentials_in_nats_url_work_and_never_show_in_logs(
    kind, tmp_path, procs, replay_node
):
    server_args, userinfo, masked, _ = AUTH_KINDS[kind]
    port = start_nats(procs, tmp_path, *server_args)
    steem, posts = small_chain(tmp_path, replay_node)
    env = {"NATS_URL": f"nats://{userinfo}127.0.0.1:{port}", "STEEM_NODES": steem}
    loops = run_and_check_posts(procs, {**env, "START_BLOCK": "5000"}, posts)

    shown = f"nats://{masked}127.0.0.1:{port}"
    for name, loop in loops.items():
        assert f"{name} INFO connected to NATS at {shown}" in loop.stderr.text()
    assert f"publishing to NATS at {shown}" in loops["broadcaster"].stderr.text()
    assert (SECRET if kind == "user-password" else TOKEN) not in all_output(*loops.values())


@pytest.mark.parametrize("kind", AUTH_KINDS)
def test_wrong_or_missing_credentials_stop_with_one_line_and_no_restart(kind, tmp_path, procs):
    server_args, _, masked, wrong = AUTH_KINDS[kind]
    port = start_nats(procs, tmp_path, *server_args)
    wrong_loops = start_workers(procs, {"NATS_URL": f"nats://{wrong}127.0.0.1:{port}"})
    bare_loops = start_workers(procs, {"NATS_URL": f"nats://127.0.0.1:{port}"})
    assert_refused(wrong_loops, f"nats://{masked}127.0.0.1:{port}", [WRONG])
    assert_refused(bare_loops, f"nats://127.0.0.1:{port}", [])


def test_tls_with_a_private_ca_and_a_password(tmp_path, procs, replay_node):
    """A server that requires TLS and a password, as a managed NATS would."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    openssl = (
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        f"-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout {key} -out {cert}"
    )
    subprocess.run(openssl.split(), check=True, capture_output=True)
    tls_and_password = f"--tls --tlscert {cert} --tlskey {key} --user bob --pass {SECRET}"
    port = start_nats(procs, tmp_path, *tls_and_password.split())
    steem, posts = small_chain(tmp_path, replay_node)
    env = {
        "NATS_URL": f"tls://bob:{SECRET}@127.0.0.1:{port}",
        "NATS_TLS_CA": str(cert),
        "STEEM_NODES": steem,
        "START_BLOCK": "5000",
    }
    loops = run_and_check_posts(procs, env, posts)
    assert f"connected to NATS at tls://bob:***@127.0.0.1:{port}" in loops["bot"].stderr.text()
    assert SECRET not in all_output(*loops.values())


# --- NATS_CREDS: nkeys and JWTs, made as nsc would --------------------------------------

_PREFIX = {"operator": 14 << 3, "account": 0, "user": 20 << 3}
_SEED_PREFIX = 18 << 3


def _crc16(data: bytes) -> int:  # CRC-16/XMODEM, as nkeys uses
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def _base32(raw: bytes) -> str:
    return base64.b32encode(raw + _crc16(raw).to_bytes(2, "little")).decode().rstrip("=")


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class NKey:
    """An Ed25519 nkey: public key `O...`/`A...`/`U...` and seed `SO...`/`SA...`/`SU...`."""

    def __init__(self, role: str) -> None:
        self._key = ECC.generate(curve="Ed25519")
        prefix = _PREFIX[role]
        self.public = _base32(bytes([prefix]) + self._key.public_key().export_key(format="raw"))
        head = bytes([_SEED_PREFIX | prefix >> 5, (prefix & 31) << 3])
        self.seed = _base32(head + self._key.seed)

    def sign(self, data: bytes) -> bytes:
        return eddsa.new(self._key, "rfc8032").sign(data)

    def jwt(self, subject: str, name: str, nats: dict) -> str:
        """A v2 NATS JWT about `subject`, issued and signed by this key."""
        claims = {"iat": int(time.time()), "iss": self.public, "name": name, "sub": subject}
        claims["jti"] = _base32(hashlib.sha256(json.dumps(claims).encode()).digest())
        claims["nats"] = {**nats, "version": 2}
        header = _base64url(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
        body = _base64url(json.dumps(claims).encode())
        return f"{header}.{body}.{_base64url(self.sign(f'{header}.{body}'.encode()))}"


_UNLIMITED = dict.fromkeys(("subs", "data", "payload", "imports", "exports", "conn", "leaf"), -1)
_UNLIMITED["wildcards"] = True
_JETSTREAM = dict.fromkeys(("mem_storage", "disk_storage", "streams", "consumer"), -1)


def creds_file(path: Path, account: NKey) -> tuple[Path, str]:
    """A user of `account`, written as a .creds file; returns the path and the seed."""
    user = NKey("user")
    jwt = account.jwt(
        user.public,
        "steem-bot",
        {"type": "user", "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1},
    )
    path.write_text(
        f"-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{user.seed}\n------END USER NKEY SEED------\n"
    )
    return path, user.seed


def operator_mode_config(tmp_path: Path) -> tuple[Path, NKey]:
    """nats-server config trusting a new operator, with one JetStream account; returns it."""
    operator, account, system = NKey("operator"), NKey("account"), NKey("account")
    op_jwt = operator.jwt(operator.public, "steem-op", {"type": "operator"})
    account_jwt = operator.jwt(
        account.public, "steem", {"type": "account", "limits": {**_UNLIMITED, **_JETSTREAM}}
    )
    system_jwt = operator.jwt(system.public, "SYS", {"type": "account", "limits": _UNLIMITED})
    config = tmp_path / "operator.conf"
    config.write_text(
        f'operator: "{op_jwt}"\n'
        f"system_account: {system.public}\n"
        "resolver: MEMORY\n"
        f'resolver_preload: {{ {account.public}: "{account_jwt}", {system.public}: "{system_jwt}" }}\n'
        f'jetstream: {{ store_dir: "{tmp_path / "operator-js"}" }}\n'
    )
    return config, account


def test_a_creds_file_authenticates_against_a_server_in_operator_mode(tmp_path, procs, replay_node):
    config, account = operator_mode_config(tmp_path)
    port = start_nats(procs, tmp_path, config=config)
    steem, posts = small_chain(tmp_path, replay_node)
    creds, seed = creds_file(tmp_path / "steem.creds", account)
    env = {
        "NATS_URL": f"nats://127.0.0.1:{port}",
        "NATS_CREDS": str(creds),
        "STEEM_NODES": steem,
        "START_BLOCK": "5000",
    }
    loops = run_and_check_posts(procs, env, posts)
    assert seed not in all_output(*loops.values())

    # A user of an account the server does not know is refused: one line, no restart.
    stranger, stranger_seed = creds_file(tmp_path / "stranger.creds", NKey("account"))
    refused = start_workers(
        procs, {"NATS_URL": f"nats://127.0.0.1:{port}", "NATS_CREDS": str(stranger)}
    )
    assert_refused(refused, f"nats://127.0.0.1:{port}", [stranger_seed])


@pytest.mark.parametrize("problem", ["missing", "a folder", "not a creds file"])
def test_a_bad_creds_file_is_a_configuration_error(problem, tmp_path, procs):
    path = {
        "missing": tmp_path / "nowhere.creds",
        "a folder": tmp_path,
        "not a creds file": tmp_path / "seed.nk",
    }[problem]
    if problem == "not a creds file":  # an nkey seed alone, no JWT: not what NATS_CREDS takes
        path.write_text(NKey("user").seed + "\n")
    port = start_nats(procs, tmp_path)
    loops = start_workers(procs, {"NATS_URL": f"nats://127.0.0.1:{port}", "NATS_CREDS": str(path)})
    assert_config_error(loops, "NATS_CREDS")


# --- NATS_NKEY: a seed file, for a server that lists nkey users ----------------------------


def nkey_user_config(tmp_path: Path, user: NKey) -> Path:
    config = tmp_path / "nkey.conf"
    config.write_text(
        f'authorization: {{ users: [ {{ nkey: "{user.public}" }} ] }}\n'
        f'jetstream: {{ store_dir: "{tmp_path / "nkey-js"}" }}\n'
    )
    return config


def test_an_nkey_seed_file_authenticates_against_a_server_with_nkey_users(
    tmp_path, procs, replay_node
):
    user = NKey("user")
    port = start_nats(procs, tmp_path, config=nkey_user_config(tmp_path, user))
    steem, posts = small_chain(tmp_path, replay_node)
    seed_file = tmp_path / "user.nk"
    seed_file.write_text(user.seed + "\n")
    env = {
        "NATS_URL": f"nats://127.0.0.1:{port}",
        "NATS_NKEY": str(seed_file),
        "STEEM_NODES": steem,
        "START_BLOCK": "5000",
    }
    loops = run_and_check_posts(procs, env, posts)
    assert user.seed not in all_output(*loops.values())

    # Another user's seed is refused: one line, no restart.
    stranger = NKey("user")
    stranger_file = tmp_path / "stranger.nk"
    stranger_file.write_text(stranger.seed + "\n")
    refused = start_workers(
        procs, {"NATS_URL": f"nats://127.0.0.1:{port}", "NATS_NKEY": str(stranger_file)}
    )
    assert_refused(refused, f"nats://127.0.0.1:{port}", [stranger.seed])


@pytest.mark.parametrize("problem", ["not a user seed", "NATS_CREDS set as well"])
def test_a_bad_nkey_setting_is_a_configuration_error(problem, tmp_path, procs):
    seed_file = tmp_path / "user.nk"
    env = {"NATS_URL": "nats://127.0.0.1:4222", "NATS_NKEY": str(seed_file)}
    if problem == "not a user seed":  # an account seed is not a user's
        seed_file.write_text(NKey("account").seed + "\n")
        expected = "NATS_NKEY=.* does not hold a user nkey seed"
    else:
        seed_file.write_text(NKey("user").seed + "\n")
        env["NATS_CREDS"] = str(creds_file(tmp_path / "steem.creds", NKey("account"))[0])
        expected = "NATS_NKEY and NATS_CREDS are both set"
    assert_config_error(start_workers(procs, env), expected)
