"""guestagent: a network quality-of-experience agent for the Cisco IR1101 Guest Shell.

Kept import-free: every cycle is a fresh process, so start-up time counts.
"""

__version__ = "0.1.0"


def answered_version(words):
    """Print what argparse's `--version` prints when `words` are just that, without building
    the command line (start-up is the cost: `python3 -m guestagent` and the script both ask)."""
    if list(words) != ["--version"]:
        return False
    import sys
    sys.stdout.write("guestagent {}\n".format(__version__))
    return True


def leave(code):
    """End this process now with `code` (the closed pipe's 141 when stdout's reader is gone):
    the exit handlers run (`atexit`, as at any exit) and stdout and stderr are flushed, but the
    interpreter's teardown, which frees every module and object one by one for nobody once a
    process has done its work, is skipped (on Python 3.6 it was 7% of a cycle without a test
    point, and a tenth of `python3 -m guestagent --version`: docs/performance.md). Only for
    what has closed every file it wrote: `run` and `--version` in their own process."""
    import atexit
    import os
    import sys
    try:
        atexit._run_exitfuncs()  # what Python runs first at exit, before its teardown
    except BaseException:  # a handler's error, printed by atexit as at any exit
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone, a stream closed: nothing more gets out
            if stream is sys.stdout:
                code = EXIT_BROKEN_PIPE
    os._exit(EXIT_OK if code is None else code)


# Exit codes of the command line (documented in README.md).
EXIT_OK = 0
EXIT_CYCLE_ERRORS = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
# What a shell reports for a program that a closed pipe stopped (128 + SIGPIPE), as `cat` does.
EXIT_BROKEN_PIPE = 141
