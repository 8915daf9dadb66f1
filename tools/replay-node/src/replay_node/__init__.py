"""replay-node: a local Steem JSON-RPC node that serves recorded blocks.

- :mod:`replay_node.node`: :class:`~replay_node.node.ReplayNode`, the node; it ties
  together the block store (:mod:`~replay_node.store`), its clock
  (:mod:`~replay_node.timeline`), what each block serves now
  (:mod:`~replay_node.served`), faults (:mod:`~replay_node.faults`), forks
  (:mod:`~replay_node.fork`), comments (:mod:`~replay_node.comments`), the test chain
  (:mod:`~replay_node.testchain`, :mod:`~replay_node.signatures`,
  :mod:`~replay_node.accounts`, :mod:`~replay_node.steemd_errors`), the JSON-RPC methods
  (:mod:`~replay_node.methods`, :mod:`~replay_node.chain_methods`,
  :mod:`~replay_node.rpc`) and the HTTP server (:mod:`~replay_node.httpd`).
- :mod:`replay_node.archive`: read, check and write archives; list new posts.
- :mod:`replay_node.shapes`, :mod:`replay_node.blocks`: the appbase and condenser shapes,
  normalised blocks and ids.
- :mod:`replay_node.generate`: synthetic but realistic archives (:mod:`~replay_node.factory`,
  :mod:`~replay_node.templates`, :mod:`~replay_node.vocab`,
  :mod:`~replay_node.virtual_ops`, :mod:`~replay_node.edits`).
- :mod:`replay_node.cli`: the ``replay-node`` command (:mod:`~replay_node.options`).
"""

from .archive import ArchiveError, load_archive, new_posts, sample_archive_path
from .faults import Faults
from .node import ReplayNode
from .shapes import to_appbase, to_condenser

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
