"""Keys: read from STEEM_KEYS or a private file, checked against the chain, never shown.
A bad key stops the signer with one line naming the variable and exit code 2."""

import hashlib
import logging
import pickle
import signal
import traceback

import pytest
from beemgraphenebase.account import PrivateKey
from ipc_config import ConfigError
from replay_node.accounts import DEMO_ACCOUNT, DEMO_PUBLIC_KEY, DEMO_WIF
from signer.keys import Key, KeyProblem, build_ring, parse_keys
from signer.settings import SignerSettings
from steem_testing.paths import BIN

SECRET_HEX = PrivateKey(DEMO_WIF).__repr__()  # beem's repr of a key is its secret, in hex
NOBODYS = str(PrivateKey(hashlib.sha256(b"nobody").hexdigest()))  # held by no account
BROKEN = DEMO_WIF[:-1] + ("X" if DEMO_WIF[-1] != "X" else "Y")  # a bad checksum


def shows_no_secret(text: str) -> bool:
    return all(secret not in text for secret in (DEMO_WIF, SECRET_HEX, BROKEN, NOBODYS))


def test_a_key_shows_its_public_key_and_nothing_else():
    key = Key(DEMO_WIF, 1)
    for shown in (repr(key), str(key), f"{key}", repr([key]), repr(SignerSettings.from_env(
        {"STEEM_KEYS": DEMO_WIF}))):  # fmt: skip
        assert shows_no_secret(shown)
    assert key.public == DEMO_PUBLIC_KEY and DEMO_PUBLIC_KEY in repr(key)
    with pytest.raises(TypeError):
        pickle.dumps(key)


@pytest.mark.parametrize(
    ("value", "line"),
    [
        (BROKEN, "STEEM_KEYS: key 1 is not a WIF private key"),
        (f"{DEMO_WIF},notakey", "STEEM_KEYS: key 2 is not a WIF private key"),
        (f"{DEMO_WIF}, {DEMO_WIF}", "STEEM_KEYS: key 2 is given twice"),
        (" , ", "STEEM_KEYS: holds no key"),
    ],
)
def test_a_malformed_key_is_named_by_its_position_never_shown(value, line):
    with pytest.raises(ConfigError) as refused:
        SignerSettings.from_env({"STEEM_KEYS": value})
    assert str(refused.value) == line
    assert shows_no_secret("".join(traceback.format_exception(refused.value)))


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"# the bot's posting key\n{DEMO_WIF}\n")
    keys.chmod(0o644)
    with pytest.raises(ConfigError) as refused:
        SignerSettings.from_env({"STEEM_KEYS_FILE": str(keys)})
    assert str(refused.value) == (
        f"STEEM_KEYS_FILE={str(keys)!r}: is readable by other users (mode 644); "
        f"run: chmod 600 {keys}"
    )
    keys.chmod(0o600)
    settings = SignerSettings.from_env({"STEEM_KEYS_FILE": str(keys)})
    assert [key.public for key in settings.read_keys()] == [DEMO_PUBLIC_KEY]
    with pytest.raises(ConfigError, match="both set"):
        SignerSettings.from_env({"STEEM_KEYS_FILE": str(keys), "STEEM_KEYS": DEMO_WIF})


def test_the_ring_knows_which_authority_each_key_holds():
    demo, other = parse_keys(f"{DEMO_WIF}\n{NOBODYS}")
    authority = {"weight_threshold": 1, "account_auths": [], "key_auths": [[demo.public, 1]]}
    weak = {"weight_threshold": 2, "account_auths": [], "key_auths": [[other.public, 1]]}
    accounts = {"alice": {"owner": weak, "active": weak, "posting": authority},
                "bob": {"owner": weak, "active": authority, "posting": weak}}  # fmt: skip
    ring = build_ring([demo], [["alice", "bob"]], accounts, "STEEM_KEYS")
    assert ring.key_for("alice", "posting") is demo
    assert ring.key_for("alice", "active") is None  # a posting key cannot sign a transfer
    assert ring.key_for("bob", "posting") is demo  # an active key signs posting operations
    with pytest.raises(ConfigError, match=r"^STEEM_KEYS: key 2 \(public key STM\w+\) is held by"):
        build_ring([other], [["alice"]], accounts, "STEEM_KEYS")  # below the threshold


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"STEEM_KEYS": BROKEN}, "signer: configuration error: STEEM_KEYS: key 1 is not a WIF"),
        (
            {"STEEM_KEYS": f"{DEMO_WIF},{NOBODYS}"},
            "signer: configuration error: STEEM_KEYS: key 2 (public key STM",
        ),
        ({"STEEM_KEYS_FILE": "{open_file}"}, "is readable by other users (mode 644)"),
    ],
    ids=["malformed", "held by no account", "file readable by others"],
)
def test_a_bad_key_stops_the_signer_with_exit_code_2(env, line, procs, nats_server, replay_node,
                                                     tmp_path):  # fmt: skip
    node = replay_node(None, "--pace", "0")
    if env.get("STEEM_KEYS_FILE"):
        env["STEEM_KEYS_FILE"] = str(tmp_path / "keys")
        (tmp_path / "keys").write_text(DEMO_WIF + "\n")
        (tmp_path / "keys").chmod(0o644)
    signer = procs([BIN / "signer"], env={"NATS_URL": nats_server.url, "STEEM_NODES": node.url,
                                          "LOG_LEVEL": "DEBUG", **env})  # fmt: skip
    assert signer.popen.wait(30) == 2
    signer.stderr.wait_for("signer: configuration error:", timeout=5)
    lines = [text for text in signer.stderr.lines if "configuration error" in text]
    assert len(lines) == 1 and line in lines[0], signer.stderr.lines
    assert shows_no_secret("\n".join(signer.stderr.lines + signer.stdout.lines))


def test_a_key_held_by_the_demo_account_is_announced_without_the_key(procs, nats_server,
                                                                      replay_node, caplog):  # fmt: skip
    node = replay_node(None, "--pace", "0")
    signer = procs([BIN / "signer"], env={"NATS_URL": nats_server.url, "STEEM_NODES": node.url,
                                          "STEEM_KEYS": DEMO_WIF, "LOG_LEVEL": "DEBUG"})  # fmt: skip
    signer.stderr.wait_for(f"signing for @{DEMO_ACCOUNT} \\(owner, active, posting\\)", timeout=30)
    signer.signal(signal.SIGTERM)
    assert signer.popen.wait(10) == 0
    assert shows_no_secret("\n".join(signer.stderr.lines))
    assert logging.getLogger("signer").level in (logging.NOTSET, logging.DEBUG, logging.INFO)


def test_beem_errors_about_a_key_are_replaced_by_ours():
    with pytest.raises(KeyProblem) as refused:
        Key("5" + "1" * 50, 3)
    assert str(refused.value) == "key 3 is not a WIF private key"
    assert refused.value.__context__ is None or refused.value.__suppress_context__
