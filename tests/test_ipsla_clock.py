"""IP SLA start times in the router's local zone, converted with the UTC offset learned from
`show clock` against Guest Shell's UTC clock (collectors/ipsla.py)."""

import calendar
import time

from guestagent import config
from guestagent.collectors import ipsla
from guestagent.deadline import Deadline
from guestagent.device import DeviceError
from guestagent.metrics import MetricSet
from tests.conftest import read_fixture, write_config

IOL_START_TS = calendar.timegm((2026, 8, 22, 5, 22, 1))      # 05:22:01 UTC Sat Aug 22 2026
JST_START_TS = calendar.timegm((2024, 11, 15, 8, 53, 55))    # 17:53:55 JST = 08:53:55 UTC
AEST_START_TS = calendar.timegm((2017, 4, 19, 6, 12, 28))    # 16:12:28 AEST = 06:12:28 UTC


class ZonedRouter(object):
    """A router whose clock runs in a zone: `show clock` prints Guest Shell's time (UTC) moved
    by `offset_s` (plus `skew_s`, a clock a little off), named `zone`, as IOS prints it once
    `clock timezone` is set: `10:02:11.123 AEST Mon Nov 30 2026`, a leading `*` when the clock
    is not synchronized (../shared/docs/platform.md, "Guest Shell's user and environment"; the
    real capture fixtures/show_ip_sla_statistics/community-cisco-3329311__1.txt shows the same
    format in its header, `Time source is NTP, 16:13:00.323 AEST Wed Apr 19 2017`).
    Other commands answer with the text given (real captures), or fail as IOS does."""

    def __init__(self, zone, offset_s, outputs, skew_s=0.0, synced=True, fixed_ts=None):
        self.zone, self.offset_s, self.skew_s = zone, offset_s, skew_s
        self.synced, self.fixed_ts = synced, fixed_ts
        self.outputs = outputs
        self.commands = []

    def execute(self, command, timeout_s=None):
        self.commands.append(command)
        if command == "show clock":
            now = self.fixed_ts if self.fixed_ts is not None else time.time()
            local = now + self.offset_s + self.skew_s
            tm = time.gmtime(local)
            return "{}{}.{:03d} {} {} {} {}".format(
                "" if self.synced else "*", time.strftime("%H:%M:%S", tm),
                int(local * 1000) % 1000, self.zone, time.strftime("%a %b", tm), tm.tm_mday,
                tm.tm_year)
        if command not in self.outputs:
            raise DeviceError(command, "IOS says: % Invalid input detected at '^' marker.")
        return self.outputs[command]


def collect(tmp_path, device):
    cfg = config.load(write_config(tmp_path, "device: {kind: simulated}\n"
                                   "router: {ipsla: {configuration: false, tracks: false}}\n"))
    operations = ipsla.collect(device, cfg, Deadline(10))
    out = MetricSet()
    ipsla.metrics(operations, out)
    return operations, out


def last_run(out, operation):
    return out.value("guestagent_ipsla_last_run_timestamp_seconds", operation=operation,
                     type="", target="")


def statistics(name):
    return {"show ip sla statistics": read_fixture("show_ip_sla_statistics", name)}


def test_router_in_aest_converts_its_own_zone_and_keeps_utc(tmp_path):
    aest = 10 * 3600
    device = ZonedRouter("AEST", aest, statistics("community-cisco-3329311__1.txt"))
    operations, out = collect(tmp_path, device)
    assert device.commands == ["show ip sla statistics", "show clock"]
    op = operations[0]
    assert op["start_time"] == "16:12:28 AEST Wed Apr 19 2017" and op["start_zone"] == "AEST"
    assert op["start_ts"] == AEST_START_TS
    assert op["start_utc_offset_s"] == 36000
    assert op["start_utc_offset_from"].startswith("show clock '") and "AEST" in \
        op["start_utc_offset_from"] and "Guest Shell's UTC clock" in op["start_utc_offset_from"]
    assert out.value("guestagent_ipsla_last_run_timestamp_seconds", operation="1",
                     type="udp-jitter", target="") == AEST_START_TS
    # the IOL capture names its time UTC, which is UTC under any clock timezone
    operations, out = collect(tmp_path, ZonedRouter("AEST", aest, statistics(
        "iol-lab-ja__1.txt")))
    op = operations[0]
    assert (op["start_ts"], op["start_utc_offset_s"]) == (IOL_START_TS, 0)
    assert op["start_utc_offset_from"] == "zone name UTC"
    assert last_run(out, "1") == IOL_START_TS
    # a zone that is neither the clock's nor UTC (the real JST capture): no time is better than
    # a wrong one
    operations, out = collect(tmp_path, ZonedRouter("AEST", aest, statistics(
        "jp-ipsla-notes__1.txt")))
    op = operations[0]
    assert op["start_ts"] is None and op["start_utc_offset_s"] is None
    assert op["start_utc_offset_from"] == "unknown: zone JST is not the router clock's (AEST)"
    assert last_run(out, "1") is None


def test_router_in_jst_converts_the_real_jst_capture(tmp_path):
    operations, out = collect(tmp_path, ZonedRouter("JST", 9 * 3600, statistics(
        "jp-ipsla-notes__1.txt")))
    op = operations[0]
    assert op["start_time"] == "17:53:55 JST Fri Nov 15 2024" and op["start_zone"] == "JST"
    assert (op["start_ts"], op["start_utc_offset_s"]) == (JST_START_TS, 9 * 3600)
    assert last_run(out, "1") == JST_START_TS


def test_router_at_utc(tmp_path):
    operations, out = collect(tmp_path, ZonedRouter("UTC", 0, statistics("iol-lab-ja__1.txt")))
    op = operations[0]
    assert (op["start_ts"], op["start_utc_offset_s"]) == (IOL_START_TS, 0)
    assert op["start_utc_offset_from"].startswith("show clock ")
    assert last_run(out, "1") == IOL_START_TS
    # the real AEST capture on a router now at UTC (its zone changed since): no time
    operations, out = collect(tmp_path, ZonedRouter("UTC", 0, statistics(
        "community-cisco-3329311__1.txt")))
    assert operations[0]["start_ts"] is None
    assert operations[0]["start_utc_offset_from"] == \
        "unknown: zone AEST is not the router clock's (UTC)"
    # an unsynchronized run (`*`) keeps its converted time but exports no timestamp
    operations, out = collect(tmp_path, ZonedRouter("UTC", 0, statistics(
        "gns3-hsrp-mpls-lab__1.txt")))
    assert operations[0]["clock_synced"] is False and operations[0]["start_ts"] is not None
    assert out.value("guestagent_ipsla_last_run_timestamp_seconds") is None


def test_offset_is_rounded_to_quarter_hours(tmp_path):
    for zone, offset_s, skew_s in (("AEST", 36000, 200.0), ("AEST", 36000, -200.0),
                                   ("NPT", 20700, 30.0), ("PST", -8 * 3600, 0.0)):
        router = ZonedRouter(zone, offset_s, {})
        clock = ipsla.router_clock(router, None, Deadline(10))
        assert clock["utc_offset_s"] == offset_s, (zone, skew_s, clock)
        assert clock["zone"] == zone and clock["synced"] is True
        router = ZonedRouter(zone, offset_s, {}, skew_s=skew_s)
        assert ipsla.router_clock(router, None, Deadline(10))["utc_offset_s"] == offset_s


def test_a_clock_that_was_never_set_or_cannot_be_read_gives_no_offset(tmp_path):
    # an unset router clock (1993, `*`): farther from UTC than any zone
    unset = ZonedRouter("UTC", 0, statistics("jp-ipsla-notes__1.txt"), synced=False,
                        fixed_ts=calendar.timegm((1993, 3, 1, 1, 13, 0)))
    clock = ipsla.router_clock(unset, None, Deadline(10))
    assert clock["utc_offset_s"] is None and "no time zone is that far" in clock["from"]
    operations, _ = collect(tmp_path, unset)
    assert operations[0]["start_ts"] is None
    assert operations[0]["start_utc_offset_from"].startswith("unknown: show clock '*")

    class NoClock(ZonedRouter):
        def execute(self, command, timeout_s=None):
            if command == "show clock":
                raise DeviceError(command, "CLITimeoutError: timed out")
            return ZonedRouter.execute(self, command, timeout_s)

    operations, out = collect(tmp_path, NoClock("UTC", 0, statistics("iol-lab-ja__1.txt")))
    assert (operations[0]["start_ts"], operations[0]["start_utc_offset_s"]) == (IOL_START_TS, 0)
    operations, out = collect(tmp_path, NoClock("JST", 0, statistics("jp-ipsla-notes__1.txt")))
    assert operations[0]["start_ts"] is None
    assert operations[0]["start_utc_offset_from"].startswith("unknown: show clock failed")
