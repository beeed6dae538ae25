"""guestagent: a network quality-of-experience agent for the Cisco IR1101 Guest Shell.

Kept import-free: every cycle is a fresh process, so start-up time counts.
"""

__version__ = "0.1.0"

# Exit codes of the command line (documented in README.md).
EXIT_OK = 0
EXIT_CYCLE_ERRORS = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
