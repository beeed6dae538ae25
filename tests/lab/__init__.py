"""A network lab of Linux network namespaces in which every delay, loss and rate is known.

See docs/lab.md. `python -m tests.lab up|down` works with it by hand.
"""
