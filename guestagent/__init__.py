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

# Exit codes of the command line (documented in README.md).
EXIT_OK = 0
EXIT_CYCLE_ERRORS = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
