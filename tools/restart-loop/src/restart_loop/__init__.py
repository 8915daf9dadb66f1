"""restart-loop: keep one process running under honcho.

honcho stops every Procfile process as soon as one exits, so each Procfile
line runs its program as ``restart-loop -- program args...``; the program
may crash and be restarted (with backoff) without taking the others down.
"""

from .policy import Decision, RestartPolicy
from .supervisor import Status, Supervisor

__all__ = ["Decision", "RestartPolicy", "Status", "Supervisor"]
