import sys
from pathlib import Path

import pytest
from ipc_config import ChainSettings, ConfigError, NatsSettings, StreamSettings
from ipc_config.settings import DEFAULT_STEEM_NODES, LogSettings, WorkerSettings, redact_url
from steem_testing.processes import run_command


def test_defaults_follow_the_design():
    chain = ChainSettings.from_env({})
    assert chain.nodes == DEFAULT_STEEM_NODES
    assert chain.start_block is None
    assert chain.mode == "irreversible"
    nats = NatsSettings.from_env({})
    assert nats.urls == ("nats://127.0.0.1:4222",)
    assert nats.store_dir == Path(".data/jetstream")
    assert nats.local_port == 4222


def test_values_are_parsed():
    chain = ChainSettings.from_env(
        {
            "STEEM_NODES": " http://127.0.0.1:8090 , https://api.example.org ",
            "START_BLOCK": "3_286_849",
            "STREAM_MODE": "HEAD",
            "FETCH_BATCH_SIZE": "20",
            "NODE_TIMEOUT": "2.5",
        }
    )
    assert chain.nodes == ("http://127.0.0.1:8090", "https://api.example.org")
    assert chain.start_block == 3286849
    assert chain.mode == "head"
    assert chain.fetch_batch_size == 20
    assert chain.node_timeout == 2.5
    nats = NatsSettings.from_env({"NATS_URL": "nats://a:4300,tls://b:4301", "NATS_STORE_DIR": "/x"})
    assert nats.urls == ("nats://a:4300", "tls://b:4301")
    assert nats.local_port == 4300


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"START_BLOCK": "abc"}, "START_BLOCK='abc' is not a block number"),
        ({"START_BLOCK": "0"}, "START_BLOCK='0'"),
        ({"START_BLOCK": "-5"}, "START_BLOCK='-5'"),
        ({"STREAM_MODE": "fast"}, "STREAM_MODE='fast' is not one of: irreversible, head"),
        ({"STEEM_NODES": "api.steemit.com"}, "STEEM_NODES: 'api.steemit.com' is not a valid URL"),
        ({"STEEM_NODES": "ftp://x"}, "STEEM_NODES: 'ftp://x'"),
        ({"STEEM_NODES": " , "}, "STEEM_NODES is empty"),
        ({"FETCH_BATCH_SIZE": "many"}, "FETCH_BATCH_SIZE='many'"),
        ({"NODE_TIMEOUT": "0"}, "NODE_TIMEOUT='0'"),
    ],
)
def test_bad_chain_settings_name_the_variable(env, named):
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(")", r"\)")):
        ChainSettings.from_env(env)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("localhost:4222", "NATS_URL: 'localhost:4222' is not a valid URL"),
        ("nats://host:notaport", "NATS_URL: 'nats://host:notaport' is not a valid URL"),
        ("http://host:4222", "NATS_URL: 'http://host:4222'"),
    ],
)
def test_bad_nats_url_names_the_variable(url, named):
    with pytest.raises(ConfigError, match=named):
        NatsSettings.from_env({"NATS_URL": url})


def test_a_bad_url_is_reported_without_its_password():
    with pytest.raises(ConfigError) as caught:
        NatsSettings.from_env({"NATS_URL": "nats://bob:s3cret@host:bad"})
    assert "s3cret" not in str(caught.value)
    assert "bob:***@host" in str(caught.value)


def test_stream_settings():
    stream = StreamSettings.from_env({"STREAM_MAX_AGE_HOURS": "1.5", "STREAM_MAX_BYTES": "1000"})
    assert (stream.max_age_hours, stream.max_bytes, stream.duplicate_window) == (1.5, 1000, 120.0)
    with pytest.raises(ConfigError, match="STREAM_DUPLICATE_WINDOW"):
        StreamSettings.from_env({"STREAM_DUPLICATE_WINDOW": "soon"})


def state_dir(env):
    return WorkerSettings.from_env(env).state_dir


def test_worker_state_dir(tmp_path):
    assert state_dir({}) == Path(".data/workers")
    assert state_dir({"WORKER_STATE_DIR": str(tmp_path / "new")}) == tmp_path / "new"
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(ConfigError, match="WORKER_STATE_DIR=.* is a file, not a folder"):
        state_dir({"WORKER_STATE_DIR": str(a_file)})


def test_log_level():
    assert LogSettings.from_env({"LOG_LEVEL": "debug"}).log_level == 10
    with pytest.raises(ConfigError, match="LOG_LEVEL='LOUD'"):
        LogSettings.from_env({"LOG_LEVEL": "loud"})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://bob:s3cret@host:4222", "nats://bob:***@host:4222"),
        ("nats://tok3n@host:4222", "nats://***@host:4222"),
        ("nats://host:4222", "nats://host:4222"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_settings_repr_hides_credentials():
    nats = NatsSettings.from_env({"NATS_URL": "nats://bob:s3cret@host:4222"})
    assert "s3cret" not in repr(nats)
    assert "s3cret" not in nats.safe_urls


LOAD_SCRIPT = """
from ipc_config import ChainSettings
from ipc_config.settings import load_settings
print(load_settings(ChainSettings, "broadcaster").start_block)
"""


def run_load(tmp_path, env_file, **env):
    (tmp_path / ".env").write_text(env_file)
    return run_command([sys.executable, "-c", LOAD_SCRIPT], env, cwd=tmp_path)


def test_dotenv_is_read_but_never_overrides_the_environment(tmp_path):
    assert run_load(tmp_path, "START_BLOCK=111\n").stdout.strip() == "111"
    assert run_load(tmp_path, "START_BLOCK=111\n", START_BLOCK="222").stdout.strip() == "222"


def test_bad_setting_exits_2_with_one_line_and_no_traceback(tmp_path):
    result = run_load(tmp_path, "STREAM_MODE=sideways\n")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "broadcaster: configuration error: STREAM_MODE='sideways' is not one of: irreversible, head"
    ]


def test_only_the_given_mapping_is_read_never_the_process_environment(monkeypatch):
    monkeypatch.setenv("START_BLOCK", "123")
    assert ChainSettings.from_env({}).start_block is None
    assert ChainSettings.from_env({"START_BLOCK": "7"}).start_block == 7


def test_an_error_about_the_settings_as_a_whole_never_shows_the_environment():
    from ipc_config import Settings
    from pydantic import model_validator

    class Picky(Settings):
        @model_validator(mode="after")
        def refuse(self):
            raise ValueError("no way")

    with pytest.raises(ConfigError) as caught:
        Picky.from_env({"SECRET_TOKEN": "hunter2", "PATH": "/bin"})
    assert "hunter2" not in str(caught.value) and "/bin" not in str(caught.value)
    assert str(caught.value) == "settings are not valid (Value error, no way)"
