"""The router itself, through the Guest Shell `cli` module.

Only `cli.execute()` is used (one exec command; it refuses `;` and newlines). Exception classes
differ across IOS XE releases, so any exception at this boundary becomes a DeviceError, and output
carrying IOS error text is a failure too. `cli.execute()` has no timeout of its own: it runs in a
daemon thread that we stop waiting for after `command_timeout_s`.
"""

import threading

from guestagent.device import Device, DeviceError, DeviceTimeout, check_command, ios_error


def import_cli():
    """(module, None) inside Guest Shell; (None, why) elsewhere."""
    try:
        import cli
    except Exception as exc:  # ImportError, or the module failing to find its IOS session
        return None, "the Guest Shell cli module cannot be imported ({}: {})".format(
            type(exc).__name__, exc)
    if not hasattr(cli, "execute"):
        return None, "the imported cli module has no execute() (not Guest Shell's)"
    return cli, None


class OnBoxDevice(Device):
    kind = "onbox"

    def __init__(self, cli_module, command_timeout_s):
        self.cli = cli_module
        self.command_timeout_s = command_timeout_s

    def execute(self, command, timeout_s=None):
        check_command(command)
        timeout_s = self.command_timeout_s if timeout_s is None else min(timeout_s,
                                                                          self.command_timeout_s)
        box = {}

        def work():
            try:
                box["output"] = self.cli.execute(command)
            except Exception as exc:
                box["error"] = exc

        worker = threading.Thread(target=work, name="cli-execute")
        worker.daemon = True
        worker.start()
        worker.join(max(0.0, timeout_s))
        if worker.is_alive():
            raise DeviceTimeout(command, "no answer from IOS within {:.1f} s".format(timeout_s))
        if "error" in box:
            exc = box["error"]
            text = getattr(exc, "output", None) or str(exc)
            raise DeviceError(command, "{}: {}".format(type(exc).__name__, text.strip()[:300]))
        output = box.get("output") or ""
        error = ios_error(output)
        if error:
            raise DeviceError(command, "IOS says: " + error)
        return output
