"""Test points measured by IOS itself (`via: ios`): the commands sent through the device layer and
the samples made of IOS's answers (real IOS output served by the simulated router)."""

import shutil

from guestagent.deadline import Deadline
from guestagent.device.simulated import SimulatedDevice
from guestagent.probes import icmp, ios_ping, ios_traceroute, traceroute
from guestagent.schema import Namespace
from tests.conftest import fixture_path


def router_with(tmp_path, command, source):
    from guestagent.device import slug
    shutil.copy(source, str(tmp_path / "{}__real.txt".format(slug(command))))
    return SimulatedDevice(str(tmp_path))


def test_ios_ping_command_and_sample(tmp_path):
    options = Namespace(count=5, interval_s=1.0, timeout_s=2.0, size=56)
    target = Namespace(name="pe", host="10.1.1.1", kind="icmp", role="isp-edge", group=None,
                       via="ios", vrf="CUSTOMER")
    command = ios_ping.command(target.host, options, target.vrf)
    assert command == "ping vrf CUSTOMER 10.1.1.1 repeat 5 timeout 2"
    device = router_with(tmp_path, command, fixture_path("ios_ping", "ntc-templates__1.txt"))
    sample = icmp.probe(target, options, Deadline(10), Namespace(device=device))
    assert device.commands == [command]
    assert sample["via"] == "ios" and sample["error"] is None
    assert (sample["sent"], sample["received"], sample["loss_ratio"]) == (5, 5, 0.0)
    assert sample["address"] == "192.168.0.1"
    # IOS prints min/avg/max only: no per-reply median, p95 or jitter are invented.
    assert sample["rtt_ms"]["avg"] == 2 and sample["rtt_ms"]["max"] == 10
    assert sample["rtt_ms"]["median"] is None and sample["jitter_ms"] is None


def test_ios_traceroute_command_and_first_hop(tmp_path):
    options = Namespace(max_hops=8, wait_s=1.0, queries=1)
    target = Namespace(name="path", host="10.9.9.9", kind="traceroute", role="path", group=None,
                       via="ios", vrf=None)
    command = ios_traceroute.command(target.host, options)
    assert command == "traceroute 10.9.9.9 numeric timeout 1 probe 1 ttl 1 8"
    device = router_with(tmp_path, command,
                         fixture_path("ios_traceroute", "ntc-templates__1.txt"))
    sample = traceroute.probe(target, options, Deadline(10), Namespace(device=device))
    assert sample["error"] is None, sample["error"]
    assert [h["address"] for h in sample["hops"]] == ["10.180.133.121", "10.180.133.177"]
    assert sample["hops"][0]["addresses"] == ["10.180.133.121", "10.180.133.125"]
    assert sample["first_hop"] == "10.180.133.121"


def test_a_router_refusing_the_command_is_a_measurement_error(tmp_path):
    options = Namespace(count=5, interval_s=1.0, timeout_s=2.0, size=56)
    target = Namespace(name="pe", host="10.1.1.1", kind="icmp", role="isp-edge", group=None,
                       via="ios", vrf="NOPE")
    sample = icmp.probe(target, options, Deadline(10),
                        Namespace(device=SimulatedDevice(str(tmp_path))))
    assert sample["error"].startswith("ios ping failed")
    assert "sent" not in sample
