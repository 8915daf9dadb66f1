"""Where things are: the workspace's console scripts and the project's fixtures."""

import sysconfig
from pathlib import Path

# The workspace root (this package lives in libs/steem-testing/src/steem_testing).
ROOT = Path(__file__).resolve().parents[4]
_VENV_BIN = ROOT / ".venv" / "bin"
# The workspace's scripts; `uv run --with py-spy` runs us from an overlay environment.
BIN = _VENV_BIN if (_VENV_BIN / "broadcaster").exists() else Path(sysconfig.get_path("scripts"))
FIXTURES = ROOT / "tests" / "fixtures"
MAINNET = FIXTURES / "mainnet"
