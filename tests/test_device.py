import threading

import pytest

from guestagent.device import DeviceError, DeviceTimeout, ios_error, open_device, slug
from guestagent.device.onbox import OnBoxDevice
from guestagent.device.simulated import SimulatedDevice
from guestagent.schema import Namespace


class FakeCli(object):
    """Behaves like Guest Shell's cli.execute(): one command, text back."""

    def __init__(self, outputs=None, block=None, raises=None):
        self.outputs = outputs or {}
        self.block = block
        self.raises = raises
        self.calls = []

    def execute(self, command):
        self.calls.append(command)
        if self.block:
            self.block.wait(5)
        if self.raises:
            raise self.raises
        return self.outputs.get(command, "")


def test_slug_names_fixture_files():
    assert slug("show cellular 0/1/0 gps") == "show_cellular_0-1-0_gps"
    assert slug("  show  ip sla statistics ") == "show_ip_sla_statistics"
    assert slug("show running-config | section event manager") == \
        "show_running-config_pipe_section_event_manager"


def test_simulated_device_serves_files_by_command_and_fails_like_ios(tmp_path):
    (tmp_path / "show_clock__synthetic.txt").write_text("*10:00:00.000 UTC Mon Nov 23 2026\n")
    (tmp_path / "show_bad__synthetic.txt").write_text("           ^\n% Invalid input detected\n")
    device = SimulatedDevice(str(tmp_path))
    assert device.execute("show clock").startswith("*10:00")
    with pytest.raises(DeviceError) as info:
        device.execute("show ip sla statistics")
    assert "Invalid input" in str(info.value)
    with pytest.raises(DeviceError):
        device.execute("show bad")
    assert device.commands == ["show clock", "show ip sla statistics", "show bad"]


@pytest.mark.parametrize("command", ["show clock; reload", "show clock\nreload", ""])
def test_commands_are_single_exec_commands(command, tmp_path):
    with pytest.raises(DeviceError):
        SimulatedDevice(str(tmp_path)).execute(command)
    cli = FakeCli()
    with pytest.raises(DeviceError):
        OnBoxDevice(cli, 5).execute(command)
    assert cli.calls == []  # never reached IOS


@pytest.mark.parametrize("output", [
    "% Invalid input detected at '^' marker.",
    "% Incomplete command.",
    "% Ambiguous command:  \"show i\"",
    "Unexpected Error occurred",
])
def test_ios_error_text_is_a_failure(output):
    assert ios_error("\n" + output + "\n")
    with pytest.raises(DeviceError) as info:
        OnBoxDevice(FakeCli({"show x": output}), 5).execute("show x")
    assert "IOS says" in str(info.value)


def test_any_exception_from_cli_becomes_a_device_error():
    class CLISyntaxError(Exception):
        pass
    device = OnBoxDevice(FakeCli(raises=CLISyntaxError("bad syntax")), 5)
    with pytest.raises(DeviceError) as info:
        device.execute("show clock")
    assert "CLISyntaxError" in str(info.value)


def test_a_hung_cli_call_times_out():
    gate = threading.Event()
    device = OnBoxDevice(FakeCli(block=gate), command_timeout_s=1.2)
    with pytest.raises(DeviceTimeout):
        device.execute("show clock")
    gate.set()


def test_auto_falls_back_to_the_simulated_router_and_says_why():
    device = open_device(Namespace(kind="auto", fixtures=None, command_timeout_s=5))
    assert device.kind == "simulated"
    assert "cli module cannot be imported" in device.describe()["reason"]


def test_onbox_without_cli_is_an_error():
    with pytest.raises(DeviceError):
        open_device(Namespace(kind="onbox", fixtures=None, command_timeout_s=5))
