"""The environment of a process a test starts: empty, but for what a process needs.

    env = clean_env({"NATS_URL": server.url})

Nothing of the caller's environment leaks in (a developer's STEEM_NODES, LOG_LEVEL,
WORKER_STATE_DIR or .env values): only PATH (with the workspace's scripts first, as
`uv run` has it, so a Procfile's `restart-loop` is found however pytest was started),
HOME, the locale, the temporary folder, the machine's certificate authorities (for `uv`
reaching a package index) and PYTHONPATH (the processes run the code the test imports)
pass, and PYTHONUNBUFFERED so that every line comes out when it is written.
"""

import os
from collections.abc import Mapping

from steem_testing.paths import BIN

PASSED = (
    *("HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"),
    *("SSL_CERT_FILE", "SSL_CERT_DIR", "PYTHONPATH"),
)


def clean_env(settings: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED if name in os.environ}
    env["PATH"] = os.pathsep.join([str(BIN), os.environ.get("PATH", os.defpath)])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings or {})
    return env
