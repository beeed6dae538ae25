"""A cycle's time budget, measured on the monotonic clock (wall-clock steps do not move it)."""

import time


class Deadline(object):
    """An absolute point on the monotonic clock by which work must be done."""

    def __init__(self, seconds, clock=time.monotonic):
        self._clock = clock
        self.budget_s = float(seconds)
        self.started = clock()
        self.at = self.started + self.budget_s

    def remaining(self):
        """Seconds left, never negative."""
        return max(0.0, self.at - self._clock())

    def elapsed(self):
        return self._clock() - self.started

    def expired(self):
        return self._clock() >= self.at

    def shortened(self, reserve_s):
        """A deadline `reserve_s` earlier, to keep time back for work that must follow."""
        inner = Deadline(0, clock=self._clock)
        inner.started = self.started
        inner.at = self.at - reserve_s
        inner.budget_s = inner.at - inner.started
        return inner
