"""The router as the agent sees it: one show command in, its text out.

`OnBoxDevice` wraps the Guest Shell `cli` module (only `cli.execute()`); `SimulatedDevice` serves
files so that everything runs off the router. `open_device()` picks one from the config:
`device.kind: simulated` explicitly, or `auto`: onbox when `cli` imports; in Guest Shell (see
`device.guestshell.signs`) a missing or broken `cli` is a DeviceError (no router data, never
invented data); the simulated router only when clearly off a router. `device.reason` says why
(shown in the report).
"""

import os

from guestagent import rx

EMBEDDED_FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ir1101")

# Output that means IOS refused or failed the command, whatever the cli module raised.
IOS_ERROR_MARKERS = ("% Invalid", "% Incomplete", "% Ambiguous", "Unexpected Error",
                     "% Unknown command", "% Bad IP address")


class DeviceError(Exception):
    """A show command failed; `command` names it and the message says how."""

    def __init__(self, command, message):
        self.command = command
        Exception.__init__(self, "{!r}: {}".format(command, message))


class DeviceTimeout(DeviceError):
    pass


def check_command(command):
    """One exec command, as cli.execute() wants it."""
    if not command or ";" in command or "\n" in command or "\r" in command:
        raise DeviceError(command, "must be a single command without ';' or newlines")


def ios_error(output):
    """The IOS error text in an output, or None."""
    for line in (output or "").splitlines():
        stripped = line.strip()
        if stripped.startswith(IOS_ERROR_MARKERS):  # a tuple: one call per line, not six
            return stripped
    return None


class Device(object):
    kind = "none"
    reason = None

    def execute(self, command, timeout_s=None):
        raise NotImplementedError

    def describe(self):
        out = {"kind": self.kind}
        if self.reason:
            out["reason"] = self.reason
        return out


def slug(command):
    """The fixture file stem for a command: `show cellular 0/1/0 gps` -> `show_cellular_0-1-0_gps`."""
    text = rx.sub(r"\s+", " ", command.strip().lower())
    return rx.sub(r"[^a-z0-9_.-]", "", text.replace(" ", "_").replace("/", "-").replace("|", "pipe"))


def open_device(device_config):
    from guestagent.device.simulated import SimulatedDevice
    kind = device_config.kind
    if kind in ("auto", "onbox"):
        from guestagent.device import guestshell
        from guestagent.device.onbox import OnBoxDevice
        cli, problem = guestshell.load_cli()
        if cli is not None:
            return OnBoxDevice(cli, device_config.command_timeout_s)
        signs = guestshell.signs()
        if kind == "onbox" or signs:
            where = " in Guest Shell ({})".format("; ".join(signs)) if signs else ""
            raise DeviceError("import cli", "{}{}: no router data -- fix: {}".format(
                problem.message, where, problem.fix))
        device = SimulatedDevice(device_config.fixtures or EMBEDDED_FIXTURES)
        device.reason = ("auto: not in Guest Shell (no SHELL_SESSION_* variable, no {}, no cli "
                         "module; {}): simulated router, not real data".format(
                             guestshell.GUEST_SHARE, problem.message))
        return device
    device = SimulatedDevice(device_config.fixtures or EMBEDDED_FIXTURES)
    device.reason = "configured (device.kind: simulated): simulated router, not real data"
    return device
