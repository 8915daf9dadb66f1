"""replay-node: a local Steem JSON-RPC node that serves recorded blocks.

- :mod:`replay_node.archive`: load/check archives, convert appbase <-> condenser shapes,
  list new posts.
- :mod:`replay_node.server`: :class:`~replay_node.server.ReplayNode`, the HTTP server.
- :mod:`replay_node.generate`: synthetic but realistic archives.
- :mod:`replay_node.cli`: the ``replay-node`` command.
"""

from .archive import (
    ArchiveError,
    load_archive,
    new_posts,
    sample_archive_path,
    to_appbase,
    to_condenser,
)
from .server import Faults, ReplayNode

__all__ = [
    "ArchiveError",
    "Faults",
    "ReplayNode",
    "load_archive",
    "new_posts",
    "sample_archive_path",
    "to_appbase",
    "to_condenser",
]
