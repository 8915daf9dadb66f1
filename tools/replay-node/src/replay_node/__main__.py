"""``python -m replay_node``: the same as the ``replay-node`` command."""

import sys

from .cli import main

sys.exit(main())
