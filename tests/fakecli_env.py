"""The `cli` stand-in (tests/fakecli) made importable the way each test needs it.

The stand-in, like the real module, fails at import without the SHELL_SESSION_* variables that
IOS sets for a process it starts (../shared/docs/platform.md); `session_env()` gives them.
"""

import os
import sys

from tests.conftest import ROOT

FAKECLI = os.path.join(ROOT, "tests", "fakecli")


def session_env():
    """The SHELL_SESSION_* variables of an IOS-started process ({} for a stand-in that does not
    read them)."""
    try:
        from tests.fakecli import install
    except ImportError:
        return {}
    return dict(install.session_env())


def env(**extra):
    """Environment entries for a subprocess that imports the stand-in as `cli`."""
    out = {"PYTHONPATH": os.pathsep.join([FAKECLI, ROOT])}
    out.update(session_env())
    out.update(extra)
    return out


def forget():
    """Drop an imported `cli` (and its submodules) so that the next import finds it afresh."""
    for name in list(sys.modules):
        if name == "cli" or name.startswith("cli."):
            sys.modules.pop(name, None)


def importable(monkeypatch, **extra):
    """The stand-in importable in this process, with its session variables set."""
    monkeypatch.syspath_prepend(FAKECLI)
    for key, value in dict(session_env(), **extra).items():
        monkeypatch.setenv(key, value)
    forget()
