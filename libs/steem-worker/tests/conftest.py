"""Fixtures of the kit's tests: worker settings pointing at the test's nats-server."""

import pytest
from ipc_config import WorkerSettings


@pytest.fixture
def settings(nats_server, tmp_path):
    """settings(**env): the settings a worker under test runs with, its state in tmp_path."""

    def make(**env: str) -> WorkerSettings:
        return WorkerSettings.from_env(
            {"NATS_URL": nats_server.url, "WORKER_STATE_DIR": str(tmp_path / "state"), **env}
        )

    return make
