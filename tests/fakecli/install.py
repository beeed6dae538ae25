"""Put the `cli` stand-in where Guest Shell has its `cli` module: in the interpreter's own
site-packages (`/usr/lib/python3.6/site-packages/cli/` on the router, platform.md "Where it lives"),
so that it is found without PYTHONPATH -- and only by a venv that can see those site-packages.

- install_into(python) -> site_dir: copy the package `cli` into that interpreter's purelib.
- remove_from(python): take it out again.
- break_in(python, how="import"): install a copy that fails at import with something other than
  the session KeyError ("import": a missing submodule, ImportError; "syntax": a truncated file,
  SyntaxError; "noexecute": imports, but has no execute()).
- session_env(**overrides) -> dict: the SHELL_SESSION_* variables, as IOS sets them for a process
  started with `guestshell run`.
- forget_imported(): drop `cli` and its submodules from sys.modules (the session is read at import).
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(HERE, "cli")
EMBEDDED = os.path.join(os.path.dirname(os.path.dirname(HERE)), "guestagent", "device", "ir1101")


def site_dir(python_executable):
    """The interpreter's own purelib (its site-packages), as sysconfig reports it."""
    return subprocess.check_output(
        [python_executable, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        universal_newlines=True).strip()


def install_into(python_executable, fixtures=None):
    """Copy the stand-in into the interpreter's site-packages; returns that directory. `fixtures`
    becomes the default fixture directory of the installed copy (default: the embedded IR1101
    outputs); FAKECLI_FIXTURES still wins."""
    target_dir = site_dir(python_executable)
    target = os.path.join(target_dir, "cli")
    if os.path.lexists(target):
        shutil.rmtree(target)
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc",
                                                                    "_installed.json"))
    with open(os.path.join(target, "_installed.json"), "w", encoding="utf-8") as f:
        json.dump({"fixtures": os.path.abspath(fixtures or EMBEDDED)}, f)
    _readable(target)
    return target_dir


def remove_from(python_executable):
    target = os.path.join(site_dir(python_executable), "cli")
    if os.path.lexists(target):
        shutil.rmtree(target)


_BROKEN = {
    # A half-removed package: the transport submodule is gone.
    "import": "from cli._transport_removed_by_a_bad_upgrade import listener  # noqa\n",
    # A file cut short while it was copied.
    "syntax": "def execute(command:\n",
    # A different module of the same name.
    "noexecute": '"""Some other module called cli."""\nVERSION = "0.1"\n',
}


def break_in(python_executable, how="import"):
    """Install a copy of `cli` that is broken in the way `how` names; returns the site dir."""
    target_dir = install_into(python_executable)
    with open(os.path.join(target_dir, "cli", "__init__.py"), "w", encoding="utf-8") as f:
        f.write(_BROKEN[how])
    return target_dir


def session_env(**overrides):
    """The SHELL_SESSION_* variables of a process IOS started. Their names come from platform.md
    ("Import": scheme, host, listener path, udi, user, token, max_wait, session_id); the values are
    invented but plausible (IOS's are not documented). `name=value` overrides one (`token="x"`);
    `name=None` leaves it out (to show the import failing for that key)."""
    env = {
        "scheme": "http",
        "host": "localhost",
        "listener_path": "/pnp/WORK-REQUEST",
        "udi": "PID:IR1101-K9,VID:V03,SN:FCW2406XXXX",
        "user": "guestshell",
        "token": "5f0c3a9e2b7d4c18a6e1f09b3d2c7a44",
        "max_wait": "3600",
        "session_id": "1",
    }
    for key, value in overrides.items():
        env[key] = value
    return dict(("SHELL_SESSION_" + k, str(v)) for k, v in env.items() if v is not None)


def forget_imported():
    """Make the next `import cli` run the module again (it reads the session at import)."""
    for name in list(sys.modules):
        if name == "cli" or name.startswith("cli."):
            del sys.modules[name]


def _readable(path):
    """World-readable, so that an unprivileged user (Guest Shell's uid 1000) can import it."""
    for root, dirs, files in os.walk(path):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
