"""A cycle's time budget, measured on the monotonic clock (wall-clock steps do not move it), and
the watchdog that holds a network exchange to it.

Socket timeouts apply to each read, so a server that sends one byte per second never trips them;
a `Watchdog` shuts its sockets down when the exchange's time is up, which ends whatever read,
write or TLS handshake is blocked on them, in any library.
"""

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

    def within(self, seconds):
        """A deadline `seconds` from now, or this one if it comes first."""
        inner = Deadline(0, clock=self._clock)
        inner.at = min(self.at, inner.started + max(0.0, float(seconds)))
        inner.budget_s = inner.at - inner.started
        return inner


class Watchdog(object):
    """Shuts the watched sockets down at the deadline, or at an earlier limit set per phase.

    Use as a context manager around one exchange: `watch(sock)` each socket as soon as it
    exists, `limit(seconds)` at the start of each phase that has its own timeout, and after an
    exception ask `fired` (and `phase`) whether the time was up rather than the server at fault.
    """

    def __init__(self, deadline, limit_s=None):
        import threading  # here: a cycle without probes does not load it (cycle._TASK_THREADS)
        self.deadline = deadline
        self._clock = deadline._clock
        self._cond = threading.Condition()
        self._watched = []
        self._at = deadline.at
        if limit_s is not None:
            self._at = min(self._at, self._clock() + limit_s)
        self._stopped = False
        self._thread = None
        self.fired = False
        self.phase = None  # the phase in progress

    def __enter__(self):
        import threading
        self._thread = threading.Thread(target=self._run, name="watchdog")
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def watch(self, sock):
        """Watch a socket; a duplicate of its descriptor is kept, so the socket still gets shut
        down after it has been wrapped (TLS) or handed to a library."""
        try:
            twin = sock.dup()
        except (OSError, NotImplementedError):  # an SSLSocket cannot be dup'ed: watch it raw
            return sock
        with self._cond:
            if self._stopped:
                twin.close()
                return sock
            self._watched.append(twin)
            if self.fired:
                _shut(twin)
        return sock

    def limit(self, seconds, phase=None):
        """The current phase must end within `seconds` (and by the deadline)."""
        with self._cond:
            self.phase = phase
            self._at = min(self.deadline.at, self._clock() + max(0.0, seconds))
            self._cond.notify()

    def remaining(self):
        """Seconds left to the current limit: the value to give a socket's timeout."""
        return max(0.0, self._at - self._clock())

    def expired(self):
        """Whether the time is up (the sockets are shut, or about to be)."""
        return self.fired or self._at <= self._clock()

    def limited_by_deadline(self):
        """Whether the limit in force is the overall deadline rather than a phase's own."""
        return self._at >= self.deadline.at

    def stop(self):
        with self._cond:
            self._stopped = True
            self._cond.notify()
            for twin in self._watched:
                twin.close()
            self._watched = []

    def _run(self):
        with self._cond:
            while not self._stopped:
                left = self._at - self._clock()
                if left <= 0:
                    self.fired = True
                    for twin in self._watched:
                        _shut(twin)
                    return
                self._cond.wait(left)

    def describe(self):
        """Why the exchange ended, once `expired()`."""
        if self.limited_by_deadline():
            return "the deadline came during {}".format(self.phase or "the request")
        return "{} took too long".format(self.phase or "the request")


def _shut(sock):
    import socket  # here: a cycle without sinks never needs the module (start-up)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected yet, or already closed: nothing is blocked on it
