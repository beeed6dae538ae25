"""Path discovery when the Guest Shell image has no `traceroute` (platform.md: not confirmed that
17.x ships it): on a router IOS traces instead (`via: ios`) and the sample and the report's path
say so; off a router it is a measurement error that names the missing program."""

import json
import os
import shutil
import subprocess
import sys

from guestagent.deadline import Deadline
from guestagent.device import slug
from guestagent.device.simulated import SimulatedDevice
from guestagent.probes import ios_traceroute, traceroute
from guestagent.schema import Namespace
from tests import fakecli_env
from tests.conftest import ROOT, fixture_path

# Few hops: IOS's traceroute is fitted into the deadline, and this one fits unreduced.
OPTIONS = Namespace(max_hops=3, wait_s=1.0, queries=1)
TARGET = Namespace(name="path", host="127.0.0.1", kind="traceroute", role="path", group=None,
                   via="guestshell", vrf=None)


def bin_without_traceroute(tmp_path):
    """A PATH with ping and nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("ping"), str(bin_dir / "ping"))
    return str(bin_dir)


def router_fixtures(tmp_path):
    """The embedded IR1101 outputs plus a real IOS traceroute for the command path discovery
    sends toward 127.0.0.1."""
    directory = tmp_path / "router"
    shutil.copytree(os.path.join(ROOT, "guestagent", "device", "ir1101"), str(directory))
    command = ios_traceroute.command(TARGET.host, OPTIONS)
    shutil.copy(fixture_path("ios_traceroute", "ntc-templates__1.txt"),
                str(directory / "{}__ntc-templates-1.txt".format(slug(command))))
    return str(directory)


def test_on_a_router_ios_traces_instead(tmp_path, monkeypatch):
    from guestagent.device.onbox import OnBoxDevice
    monkeypatch.setenv("PATH", bin_without_traceroute(tmp_path))
    fakecli_env.importable(monkeypatch, FAKECLI_FIXTURES=router_fixtures(tmp_path))
    try:
        import cli
        device = OnBoxDevice(cli, 8)
        sample = traceroute.probe(TARGET, OPTIONS, Deadline(10), Namespace(device=device))
    finally:
        fakecli_env.forget()
    assert sample["error"] is None, sample["error"]
    assert sample["via"] == "ios"
    assert sample["via_reason"] == ("traceroute is not installed in Guest Shell: traced by IOS "
                                    "instead")
    assert sample["command"] == "traceroute 127.0.0.1 numeric timeout 1 probe 1 ttl 1 3"
    assert [h["address"] for h in sample["hops"]] == ["10.180.133.121", "10.180.133.177"]
    assert sample["first_hop"] == "10.180.133.121"


def test_off_a_router_it_is_a_measurement_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", bin_without_traceroute(tmp_path))
    expected = ("traceroute is not installed in Guest Shell (no `traceroute` on PATH) and no "
                "router to trace from: install it (`sudo yum install traceroute`) or set "
                "path_discovery.via: ios")
    for context in (None, Namespace(device=None),
                    # The simulated router's invented path must not stand in for a missing program.
                    Namespace(device=SimulatedDevice(router_fixtures(tmp_path)))):
        sample = traceroute.probe(TARGET, OPTIONS, Deadline(10), context)
        assert sample["error"] == expected
        assert sample["via"] == "guestshell" and sample["hops"] == []


def test_with_traceroute_present_guest_shell_traces(tmp_path):
    if not shutil.which("traceroute"):
        import pytest
        pytest.skip("traceroute is not installed")
    sample = traceroute.probe(TARGET, OPTIONS, Deadline(10), None)
    assert sample["error"] is None and sample["via"] == "guestshell"
    assert "via_reason" not in sample
    assert sample["hops"][0]["address"] == "127.0.0.1"


def test_a_cycle_on_a_router_without_traceroute(tmp_path):
    """As EEM starts it: env -i, from /, the stand-in as the router, no traceroute on PATH."""
    config = tmp_path / "config.yaml"
    config.write_text("agent: {{state_dir: {}}}\ndevice: {{kind: onbox}}\n"
                      "path_discovery: {{toward: 127.0.0.1, first_hop: false}}\n"
                      "probes: {{icmp: {{count: 1, interval_s: 0.2, timeout_s: 1}},\n"
                      "         traceroute: {{max_hops: 3}}}}\n"
                      "targets: [{{name: lo4, host: 127.0.0.1}}]\n".format(tmp_path / "state"))
    env = fakecli_env.env(PATH=bin_without_traceroute(tmp_path),
                          FAKECLI_FIXTURES=router_fixtures(tmp_path))
    result = subprocess.run([sys.executable, "-m", "guestagent", "run", "-c", str(config),
                             "--json"], env=env, cwd="/", stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["agent"]["device"]["kind"] == "onbox"
    path = report["path"]
    assert path["error"] is None
    assert path["via"] == "ios"
    assert path["via_reason"] == ("traceroute is not installed in Guest Shell: traced by IOS "
                                  "instead")
    assert path["first_hop"] == "10.180.133.121"
    assert not [e for e in report["errors"] if "path" in e["where"]]
