"""A router made of files: each show command's output is a file in a fixture directory.

The file for a command is `<slug>.txt` or `<slug>__<provenance>.txt` (e.g.
`show_ip_sla_statistics__ntc-templates-1.txt`, `show_version__synthetic.txt`), where the slug is
the command in lower case with spaces as `_` and `/` as `-`. A command with no file fails as IOS
fails an unknown command.
"""

import os

from guestagent.device import Device, DeviceError, check_command, ios_error, slug


def read_fixture(path, command):
    """A fixture file's text, read as UTF-8 whatever the locale (Guest Shell runs us with none, so
    Python 3.6 would default to ASCII); anything else is a DeviceError naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise DeviceError(command, "{}:{}: not UTF-8 (byte 0x{:02x} at offset {})".format(
            path, line, exc.object[exc.start], exc.start))
    except (IOError, OSError) as exc:
        raise DeviceError(command, "{}: {}".format(path, exc.strerror or exc))


class SimulatedDevice(Device):
    kind = "simulated"

    def __init__(self, fixture_dir):
        self.fixture_dir = fixture_dir
        self.commands = []  # what was asked, in order (tests read it)
        try:
            self._files = sorted(os.listdir(fixture_dir))
        except OSError as exc:
            raise DeviceError("(simulated)", "fixture directory {}: {}".format(
                fixture_dir, exc.strerror or exc))

    def path_for(self, command):
        stem = slug(command)
        for name in self._files:
            if name == stem + ".txt" or (name.startswith(stem + "__") and name.endswith(".txt")):
                return os.path.join(self.fixture_dir, name)
        return None

    def execute(self, command, timeout_s=None):
        check_command(command)
        self.commands.append(command)
        path = self.path_for(command)
        if path is None:
            raise DeviceError(command, "IOS says: % Invalid input detected (the simulated router "
                                       "has no output for it in {})".format(self.fixture_dir))
        output = read_fixture(path, command)
        error = ios_error(output)
        if error:
            raise DeviceError(command, "IOS says: " + error)
        return output

    def describe(self):
        out = Device.describe(self)
        out["fixtures"] = self.fixture_dir
        return out
