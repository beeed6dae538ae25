"""Run a program under a deadline: interrupt it (so it prints its summary), then kill it.

The program runs in a session of its own, and what it leaves behind goes with it: at the deadline
its whole process group is interrupted, then killed. Its output is read until it exits, not until
its pipes close: a grandchild that holds stdout open (a daemon it forked, a helper it left
running) does not keep us waiting, and is killed with the group.
"""

import os
import select
import signal
import subprocess
import time

# After SIGKILL, the time we wait for the child to be gone (it cannot refuse; this bounds a
# process stuck in the kernel).
KILL_WAIT_S = 1.0
# How often the child's exit is checked while its pipes stay open (output wakes us sooner).
EXIT_CHECK_S = 0.25


class Result(object):
    def __init__(self, argv, returncode, stdout, stderr, timed_out, missing=False):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out
        self.missing = missing  # the program could not be started at all


def run(argv, timeout_s, grace_s=0.5, env=None):
    """Run argv for at most timeout_s seconds, then SIGINT its group, and SIGKILL it grace_s
    later; returns within timeout_s + grace_s + KILL_WAIT_S whatever the program and its
    children do (a child still alive then has returncode None). Never raises for the
    program's own failure."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, env=env)
    except OSError as exc:
        return Result(argv, None, "", "{}: {}".format(argv[0], exc.strerror or exc), False, True)
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    output = {out_fd: [], err_fd: []}
    open_fds = set(output)
    timed_out = False
    try:
        until = time.monotonic() + max(0.0, timeout_s)
        for sig in (None, signal.SIGINT, signal.SIGKILL):
            if sig is not None:
                # SIGINT first: ping and traceroute print what they have when interrupted.
                timed_out = True
                _signal_group(proc, sig)
                until = time.monotonic() + (grace_s if sig == signal.SIGINT else KILL_WAIT_S)
            if _read_until_exit(proc, open_fds, output, until):
                break
        # The child is gone: take what is already in the pipes, without waiting for whoever
        # still holds them open.
        _drain(open_fds, output)
    finally:
        # What the group left behind, if anything. The child is not reaped yet, so its pid
        # (the group's id) cannot have been given to another process.
        _signal_group(proc, signal.SIGKILL)
        proc.stdout.close()
        proc.stderr.close()
        if _exited(proc):
            proc.wait()  # a zombie by now: returns at once
    return Result(argv, proc.returncode, _text(output[out_fd]), _text(output[err_fd]),
                  timed_out)


def _read_until_exit(proc, open_fds, output, until):
    """Collect output until the child exits (True) or `until` passes (False)."""
    while True:
        if _exited(proc):
            return True
        left = until - time.monotonic()
        if left <= 0:
            return False
        if not open_fds:
            time.sleep(min(left, 0.02))
            continue
        # Bounded waits: the child's exit does not show on pipes a grandchild still holds. Not
        # shorter: fifty probes waking twenty times a second each cost a cycle CPU and the GIL.
        for fd in _ready(open_fds, min(left, EXIT_CHECK_S)):
            _read(fd, open_fds, output)


def _exited(proc):
    """Whether the child has exited, without reaping it (WNOWAIT keeps its pid taken)."""
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _drain(open_fds, output):
    """Read what the pipes hold now; stop at the first that has nothing ready."""
    for _ in range(1024):  # bounded: someone may still be writing
        if not open_fds:
            return
        ready = _ready(open_fds, 0)
        if not ready:
            return
        for fd in ready:
            _read(fd, open_fds, output)


def _ready(fds, timeout_s):
    """The fds readable (or at their end) within timeout_s; poll, not select: a cycle with many
    probes may hold descriptors past select's 1024."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return [fd for fd, _ in poller.poll(timeout_s * 1000.0)]


def _read(fd, open_fds, output):
    try:
        data = os.read(fd, 65536)
    except OSError:
        data = b""
    if data:
        output[fd].append(data)
    else:
        open_fds.discard(fd)


def _text(chunks):
    """Bytes as text, as universal_newlines would give them, but never failing on a byte."""
    text = b"".join(chunks).decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except OSError:
        pass
