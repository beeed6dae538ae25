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
    sample = icmp.probe(target, options, Deadline(20), Namespace(device=device))
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
    sample = traceroute.probe(target, options, Deadline(20), Namespace(device=device))
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


# -- an IOS ping sample through the SLA engine -----------------------------------------------------
def router_example(tmp_path):
    """examples/router.yaml as shipped, with its state directory in tmp."""
    from guestagent import config as config_module
    with open(fixture_path("..", "examples", "router.yaml")) as f:
        text = f.read()
    text = text.replace("state_dir: /bootflash/guest-share/guestagent/state",
                        "state_dir: {}".format(tmp_path / "state"))
    return config_module.parse(text, "router.yaml")


def test_ios_ping_with_every_reply_is_available_and_so_are_its_groups(tmp_path):
    """The example's `via: ios` point pinged through IOS (a real capture with 10/10 replies):
    the SLA engine takes IOS's average as the delay, so the point and its groups are up."""
    from guestagent import config as config_module
    from guestagent import sla
    from guestagent.sla import report as sla_report
    from guestagent.sla import store as stores
    config = router_example(tmp_path)
    target = [t for t in config.targets if t.get("via") == "ios"][0]
    assert (target.name, target.group) == ("isp-edge-from-ios", ["uplink"])
    options = config_module.target_options(config, target)
    command = ios_ping.command(target.host, options, target.get("vrf"))
    assert command == "ping 198.51.100.1 repeat 10 timeout 2"
    device = router_with(tmp_path, command, fixture_path("ios_ping", "iol-lab-ja__1.txt"))
    day = 1795132800.0  # 2026-11-20T00:00:00Z
    for i in range(4):
        ts = day + 36000 + i * config.agent.interval_s
        sample = icmp.probe(target, options, Deadline(60), Namespace(device=device))
        assert sample["error"] is None and sample["loss_ratio"] == 0.0
        assert sample["rtt_ms"]["median"] is None and sample["rtt_ms"]["avg"] == 1
        sample["started"] = ts
        section = sla.update(config, {"cycle": {"id": "c%d" % i, "started_ts": ts},
                                      "probes": [sample]})
        assert section["error"] is None
        point = section["targets"]["isp-edge-from-ios"]
        assert point["available"] is True and point["in_outage"] is False, point
        assert point["baseline"]["rtt_ms"]["value"] == 1  # IOS's average stands for the delay
        for group in ("uplink", "role:isp-edge"):
            assert section["groups"][group]["available"] is True, (group, section["groups"])
    assert point["today"]["availability"] == 1.0 and point["today"]["known_s"] == 900.0
    assert section["groups"]["uplink"]["today"]["availability"] == 1.0
    store = stores.Store(stores.path_in(config.agent.state_dir))
    try:
        data = sla_report.build(store, config.sla, config.agent.interval_s, day, day + 86400)
    finally:
        store.close()
    entries = dict((e["name"], e["periods"][0]) for e in data["targets"] + data["groups"])
    for name in ("isp-edge-from-ios", "uplink", "role:isp-edge"):
        assert entries[name]["availability"] == 1.0, (name, entries[name])
        assert entries[name]["outages"]["count"] == 0
    assert entries["isp-edge-from-ios"]["delay_ms"]["p50"] == 1


# -- probes that fit the deadline: a router double with IOS's timing -------------------------------
class FakeClock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class IOSTimedRouter(object):
    """A router that answers `ping` and `traceroute` with IOS's timing, on a fake clock.

    - IOS ping sends one echo, waits for its reply or for `timeout` seconds, then sends the next:
      a dead target costs `timeout` seconds per echo (Cisco IOS command reference, `ping`:
      "timeout: timeout interval in seconds, default 2"; issue 10: `repeat 10 timeout 2` takes
      about 20 s against a dead target).
    - IOS traceroute waits `timeout` seconds for each probe that is not answered, hop after hop
      up to the last TTL; a hop that answers costs its round trip.
    - A command that runs past the cli's limit raises CLITimeoutError(command, output), `.output`
      holding what IOS printed so far (../shared/docs/platform.md, "The `cli` module"): here a
      DeviceTimeout with `.output`, as the device layer passes it on. IOS prints a result
      character per echo and a line per hop as they happen.
    - Each call costs `overhead_s` more (the cli round trip; not measured on a router).

    The text has the layout of the real captures fixtures/ios_ping/gns3-c7200-cn__2.txt (total
    loss), fixtures/ios_ping/iol-lab-ja__1.txt (all replies) and
    fixtures/ios_traceroute/gns3-hsrp-mpls-lab__2.txt (hops dark after the first), with the
    count, timeout and results of the command asked.
    """

    def __init__(self, clock, alive_hops=1, target_alive=False, command_timeout_s=8,
                 overhead_s=0.5):
        self.clock = clock
        self.alive_hops = alive_hops
        self.target_alive = target_alive
        self.command_timeout_s = command_timeout_s
        self.overhead_s = overhead_s
        self.commands = []
        self.took_s = []

    def execute(self, command, timeout_s=None):
        from guestagent.device import DeviceTimeout
        self.commands.append(command)
        limit_s = self.command_timeout_s if timeout_s is None else min(timeout_s,
                                                                       self.command_timeout_s)
        words = command.split()
        if words[0] == "ping":
            events, head, tail = self._ping(words)
        else:
            events, head, tail = self._traceroute(words)
        spent = self.overhead_s
        printed = head
        for cost_s, text in events:
            if spent + cost_s > limit_s:
                self.clock.now += limit_s
                self.took_s.append(limit_s)
                exc = DeviceTimeout(command, "CLITimeoutError: timed out")
                exc.output = printed
                raise exc
            spent += cost_s
            printed += text
        self.clock.now += spent
        self.took_s.append(spent)
        return printed + tail

    def _ping(self, words):
        host = words[words.index("repeat") - 1]
        repeat = int(words[words.index("repeat") + 1])
        timeout = int(words[words.index("timeout") + 1])
        head = ("Type escape sequence to abort.\nSending {}, 100-byte ICMP Echos to {}, timeout "
                "is {} seconds:\n".format(repeat, host, timeout))
        char, cost_s = ("!", 0.001) if self.target_alive else (".", float(timeout))
        events = [(cost_s, char) for _ in range(repeat)]
        if self.target_alive:
            tail = ("\nSuccess rate is 100 percent ({0}/{0}), round-trip min/avg/max = 1/1/2 ms"
                    .format(repeat))
        else:
            tail = "\nSuccess rate is 0 percent (0/{})".format(repeat)
        return events, head, tail

    def _traceroute(self, words):
        host = words[1] if words[1] != "vrf" else words[3]
        wait = int(words[words.index("timeout") + 1])
        queries = int(words[words.index("probe") + 1])
        last_ttl = int(words[-1])
        head = "\nType escape sequence to abort.\nTracing the route to {}\n\n".format(host)
        events = []
        for ttl in range(1, last_ttl + 1):
            if ttl <= self.alive_hops:
                times = " ".join("{} msec".format(24 + 4 * q) for q in range(queries))
                events.append((0.03 * queries, "  {} 192.0.2.{} {}\n".format(ttl, ttl, times)))
            else:
                events.append((0.0, "  {} ".format(ttl)))
                events.extend((float(wait), " * ") for _ in range(queries))
                events.append((0.0, "\n"))
        return events, head, ""


ROUTER_ICMP = Namespace(count=10, interval_s=1.0, timeout_s=2.0, size=56)  # examples/router.yaml
ROUTER_TRACE = Namespace(max_hops=12, wait_s=1.0, queries=1)


def ios_target(kind="icmp"):
    return Namespace(name="pe", host="198.51.100.1", kind=kind, role="isp-edge", group=None,
                     via="ios", vrf=None)


def test_fit_keeps_what_fits_and_says_what_it_cut():
    assert ios_ping.fit(10, 2.0, 30) == (10, 2, {})
    # 8 s of command timeout, 3 s of margin: 2 echoes of 2 s would fit, too few: 5 of 1 s
    assert ios_ping.fit(10, 2.0, 8) == (5, 1, {"repeat": [10, 5], "timeout_s": [2, 1]})
    # room for 6 echoes of 2 s: the timeout stays
    assert ios_ping.fit(10, 2.0, 15) == (6, 2, {"repeat": [10, 6]})
    assert ios_ping.fit(3, 2.0, 7) == (3, 1, {"timeout_s": [2, 1]})
    assert ios_ping.fit(10, 0.3, 30) == (10, 1, {})  # IOS takes whole seconds
    assert ios_ping.fit(10, 2.0, 3.5) == (None, None, None)
    assert ios_traceroute.fit(12, 1, 1.0, 8) == (5, 1, 1, {"max_hops": [12, 5]})
    assert ios_traceroute.fit(8, 3, 2.0, 30) == (8, 1, 2, {"queries": [3, 1]})
    assert ios_traceroute.fit(8, 3, 2.0, 8) == (5, 1, 1, {"max_hops": [8, 5], "queries": [3, 1],
                                                          "wait_s": [2, 1]})
    assert ios_traceroute.fit(12, 1, 1.0, 4.5) is None


def test_ios_ping_of_a_dead_target_is_total_loss_within_the_command_timeout():
    from guestagent.sla import engine
    clock = FakeClock()
    router = IOSTimedRouter(clock)
    deadline = Deadline(14, clock=clock)
    sample = icmp.probe(ios_target(), ROUTER_ICMP, deadline, Namespace(device=router))
    assert router.commands == ["ping 198.51.100.1 repeat 5 timeout 1"]
    assert sample["error"] is None, sample["error"]
    assert (sample["sent"], sample["received"], sample["loss_ratio"]) == (5, 0, 1.0)
    assert sample["reduced"] == {"repeat": [10, 5], "timeout_s": [2, 1]}
    assert "partial" not in sample
    assert router.took_s == [5.5] and deadline.remaining() == 8.5
    record = engine.normalize(sample, 0.2, 500)
    assert record["error"] is False and record["available"] is False  # an outage, not an error


def test_ios_ping_fits_what_is_left_of_the_deadline():
    clock = FakeClock()
    router = IOSTimedRouter(clock, command_timeout_s=60, target_alive=True)
    deadline = Deadline(14, clock=clock)
    clock.now += 7.0  # other work took half the cycle
    sample = icmp.probe(ios_target(), ROUTER_ICMP, deadline, Namespace(device=router))
    assert router.commands == ["ping 198.51.100.1 repeat 4 timeout 1"]
    assert sample["reduced"] == {"repeat": [10, 4], "timeout_s": [2, 1]}
    assert (sample["sent"], sample["received"]) == (4, 4)
    assert not deadline.expired()
    # nothing cut when it fits
    clock2 = FakeClock()
    router2 = IOSTimedRouter(clock2, command_timeout_s=60)
    sample = icmp.probe(ios_target(), ROUTER_ICMP, Deadline(30, clock=clock2),
                        Namespace(device=router2))
    assert router2.commands == ["ping 198.51.100.1 repeat 10 timeout 2"]
    assert "reduced" not in sample and sample["loss_ratio"] == 1.0


def test_ios_ping_that_times_out_anyway_counts_the_echoes_printed():
    """IOS slower than planned (4 s of cli round trip): the cli times out, and the result
    characters in CLITimeoutError.output are the measurement."""
    clock = FakeClock()
    router = IOSTimedRouter(clock, overhead_s=4.0)
    sample = icmp.probe(ios_target(), ROUTER_ICMP, Deadline(14, clock=clock),
                        Namespace(device=router))
    assert router.commands == ["ping 198.51.100.1 repeat 5 timeout 1"]
    assert sample["error"] is None, sample["error"]
    assert sample["partial"] is True
    assert (sample["sent"], sample["received"], sample["loss_ratio"]) == (4, 0, 1.0)
    # a timeout with nothing printed is still a measurement error
    router = IOSTimedRouter(FakeClock(), overhead_s=4.0)
    router.execute = lambda command, timeout_s=None: _raise_timeout(command, None)
    sample = icmp.probe(ios_target(), ROUTER_ICMP, Deadline(14), Namespace(device=router))
    assert sample["error"].startswith("ios ping failed") and "sent" not in sample


def _raise_timeout(command, output):
    from guestagent.device import DeviceTimeout
    exc = DeviceTimeout(command, "no answer from IOS within 8.0 s")
    if output is not None:
        exc.output = output
    raise exc


def test_ios_ping_with_no_time_left_is_a_measurement_error():
    clock = FakeClock()
    router = IOSTimedRouter(clock)
    deadline = Deadline(14, clock=clock)
    clock.now += 10.5
    sample = icmp.probe(ios_target(), ROUTER_ICMP, deadline, Namespace(device=router))
    assert router.commands == []
    assert sample["error"].startswith("deadline: 3.5 s left") and "sent" not in sample


def test_ios_traceroute_of_a_path_dark_after_the_first_hop_fits_and_names_the_first_hop():
    clock = FakeClock()
    router = IOSTimedRouter(clock)
    deadline = Deadline(14, clock=clock)
    sample = traceroute.probe(ios_target("traceroute"), ROUTER_TRACE, deadline,
                              Namespace(device=router))
    assert router.commands == ["traceroute 198.51.100.1 numeric timeout 1 probe 1 ttl 1 5"]
    assert sample["error"] is None, sample["error"]
    assert sample["reduced"] == {"max_hops": [12, 5]}
    assert [h["hop"] for h in sample["hops"]] == [1, 2, 3, 4, 5]
    assert sample["first_hop"] == "192.0.2.1" and sample["reached"] is False
    assert router.took_s[0] <= 8


def test_ios_traceroute_that_times_out_anyway_keeps_the_hops_printed():
    clock = FakeClock()
    router = IOSTimedRouter(clock, alive_hops=2, overhead_s=6.0)
    options = Namespace(max_hops=8, wait_s=2.0, queries=3)
    sample = traceroute.probe(ios_target("traceroute"), options, Deadline(14, clock=clock),
                              Namespace(device=router))
    assert router.commands == ["traceroute 198.51.100.1 numeric timeout 1 probe 1 ttl 1 5"]
    assert sample["reduced"] == {"max_hops": [8, 5], "queries": [3, 1], "wait_s": [2, 1]}
    assert sample["error"] is None and sample["partial"] is True
    assert [h["address"] for h in sample["hops"][:2]] == ["192.0.2.1", "192.0.2.2"]
    assert sample["first_hop"] == "192.0.2.1" and sample["reached"] is False


def test_the_command_timeout_comes_from_the_config_when_the_device_has_none():
    from guestagent.device.simulated import SimulatedDevice
    config = Namespace(device=Namespace(command_timeout_s=8))
    context = Namespace(device=SimulatedDevice(fixture_path("ios_ping")), config=config)
    assert ios_ping.budget_s(Deadline(14), context) == 8
    assert ios_ping.budget_s(Deadline(5), context) <= 5
    assert ios_ping.budget_s(Deadline(14), Namespace(device=None)) <= 14
