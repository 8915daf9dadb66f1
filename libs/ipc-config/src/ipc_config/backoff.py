"""The one retry policy: wait, double the wait on each failure up to a cap, start over
after a success.

    backoff = Backoff(start=0.25, cap=5.0)
    while not done():
        try_it()
        await asyncio.sleep(backoff.next())   # 0.25, 0.5, 1, 2, 4, 5, 5, ...
    backoff.reset()

Standard library only: the restart loop uses it too.
"""

from dataclasses import dataclass, field


@dataclass
class Backoff:
    start: float
    cap: float
    factor: float = 2.0
    _next: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._next = self.start

    @property
    def upcoming(self) -> float:
        """The wait `next()` will give, without moving on."""
        return self._next

    def next(self) -> float:
        """This wait; the next one grows by `factor`, up to `cap`."""
        wait = self._next
        self._next = min(self._next * self.factor, self.cap)
        return wait

    def reset(self) -> None:
        self._next = self.start
