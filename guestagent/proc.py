"""Run a program under a deadline: interrupt it (so it prints its summary), then kill it."""

import os
import signal
import subprocess


class Result(object):
    def __init__(self, argv, returncode, stdout, stderr, timed_out, missing=False):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out
        self.missing = missing  # the program could not be started at all


def run(argv, timeout_s, grace_s=0.5, env=None):
    """Run argv for at most timeout_s seconds. Never raises for the program's own failure."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, env=env,
                                universal_newlines=True)
    except OSError as exc:
        return Result(argv, None, "", "{}: {}".format(argv[0], exc.strerror or exc), False, True)
    try:
        out, err = proc.communicate(timeout=max(0.0, timeout_s))
        return Result(argv, proc.returncode, out, err, False)
    except subprocess.TimeoutExpired:
        pass
    # SIGINT first: ping and traceroute print what they have when interrupted.
    _signal_group(proc, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=grace_s)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        out, err = proc.communicate()
    return Result(argv, proc.returncode, out, err, True)


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except OSError:
        pass
