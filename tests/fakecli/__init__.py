"""A stand-in for Guest Shell's `cli` module (the package `cli/`) and the means to install it into
an interpreter's own site-packages (`install.py`). Put this directory on PYTHONPATH to make
`import cli` find the stand-in; `tests.fakecli.install` installs it the way Guest Shell has it."""
