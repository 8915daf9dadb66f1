"""``python -m restart_loop``: same as the ``restart-loop`` console script."""

import sys

from .cli import main

sys.exit(main())
