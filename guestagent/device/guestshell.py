"""Are we in Guest Shell, and does its `cli` module work? Decided without trusting `cli` itself.

`device.kind: auto` must never answer with the simulated router on a real router, so "in Guest
Shell" is decided from signs that do not need a working `cli` (../shared/docs/platform.md):
- a `SHELL_SESSION_*` environment variable: IOS sets them on every process it launches with
  `guestshell run` (the `cli` transport reads them at import);
- `/bootflash/guest-share`: the directory IOS shares with Guest Shell;
- a top-level `cli` module findable on the path, located without importing it (importing it is
  what fails when it is broken or started outside IOS).
Any one of them is enough. Off a router none of them is present.
"""

import os
import sys

GUEST_SHARE = "/bootflash/guest-share"
SESSION_PREFIX = "SHELL_SESSION_"

MISSING, NO_SESSION, BROKEN = "missing", "no IOS session", "broken"

FIXES = {
    MISSING: "the agent's venv must see Guest Shell's system site-packages, where `cli` lives "
             "(/usr/lib/python3.6/site-packages/cli): reinstall with the bundle's install.sh, "
             "which creates it with --system-site-packages",
    NO_SESSION: "start the agent through IOS (`guestshell run <python> -m guestagent ...`, from "
                "EEM or the IOS exec prompt); cron or SSH inside Guest Shell gives no IOS "
                "session",
    BROKEN: "Guest Shell's cli module does not load: restart Guest Shell (`guestshell disable` / "
            "`guestshell enable`), or destroy and re-enable it to restore the image's module",
}


def session_variables(environ=None):
    environ = os.environ if environ is None else environ
    return sorted(name for name in environ if name.startswith(SESSION_PREFIX))


def find_cli():
    """Where a top-level `cli` module would be imported from, without importing it; or None."""
    module = sys.modules.get("cli")
    if module is not None:
        return getattr(module, "__file__", None) or "(already imported)"
    try:
        import importlib.util
        spec = importlib.util.find_spec("cli")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.origin or ", ".join(spec.submodule_search_locations or []) or "cli"


def signs(environ=None, guest_share=None):
    """What says this process runs in Guest Shell: a list of short descriptions, empty off it."""
    guest_share = GUEST_SHARE if guest_share is None else guest_share
    found = []
    names = session_variables(environ)
    if names:
        found.append("IOS session variables ({}{})".format(
            ", ".join(names[:2]), ", ..." if len(names) > 2 else ""))
    if os.path.isdir(guest_share):
        found.append(guest_share)
    where = find_cli()
    if where:
        found.append("a cli module on the path")
    return found


class CliProblem(object):
    """Why `cli` cannot be used: `kind` (MISSING, NO_SESSION, BROKEN), `message`, `fix`."""

    def __init__(self, kind, message):
        self.kind, self.message, self.fix = kind, message, FIXES[kind]

    def __str__(self):
        return self.message


def load_cli(environ=None):
    """(module, None) when Guest Shell's `cli` imports; (None, CliProblem) otherwise."""
    where = find_cli()
    try:
        import cli
    except Exception as exc:  # ImportError, the KeyError of a process without a session, ...
        what = "{}: {}".format(type(exc).__name__, str(exc).strip()[:300])
        if isinstance(exc, ImportError) and getattr(exc, "name", None) == "cli" and not where:
            return None, CliProblem(MISSING, "the Guest Shell cli module cannot be imported ({}): "
                                             "missing from the path of {}".format(
                                                 what, sys.executable))
        if not session_variables(environ):
            return None, CliProblem(NO_SESSION, "the cli module cannot be imported ({}): it fails "
                                                "at import without the IOS session variables "
                                                "(no SHELL_SESSION_*)".format(what))
        return None, CliProblem(BROKEN, "the cli module at {} cannot be imported ({}): it is "
                                        "broken".format(where or "?", what))
    if not callable(getattr(cli, "execute", None)):
        return None, CliProblem(BROKEN, "the cli module at {} is broken: it has no "
                                        "execute() (not Guest Shell's)".format(
                                            getattr(cli, "__file__", "?")))
    return cli, None
