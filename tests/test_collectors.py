"""The router collectors on the simulated IR1101 and on routers that lack a feature."""

import os
import shutil

import pytest

from guestagent import collectors, config
from guestagent.collectors import cellular, ipsla, location
from guestagent.deadline import Deadline
from guestagent.device import EMBEDDED_FIXTURES, DeviceError, DeviceTimeout, slug
from guestagent.device.simulated import SimulatedDevice
from guestagent.metrics import MetricSet
from tests.conftest import read_fixture, write_config


def load(tmp_path, text=""):
    return config.load(write_config(tmp_path, "device: {kind: simulated}\n" + text))


def router(tmp_path, files):
    """A simulated router holding only `files` ({command: text})."""
    directory = tmp_path / "router"
    directory.mkdir()
    for command, text in files.items():
        (directory / "{}__synthetic.txt".format(slug(command))).write_text(text)
    return SimulatedDevice(str(directory))


def embedded():
    return SimulatedDevice(EMBEDDED_FIXTURES)


def test_registered_by_report_key():
    assert collectors.COLLECTORS == {"ipsla": "guestagent.collectors.ipsla",
                                     "location": "guestagent.collectors.location",
                                     "cellular": "guestagent.collectors.cellular",
                                     "interfaces": "guestagent.collectors.interfaces"}


# -- IP SLA ---------------------------------------------------------------------------------

def test_ipsla_operations_with_configuration_and_tracks(tmp_path):
    device = embedded()
    operations = ipsla.collect(device, load(tmp_path), Deadline(10))
    assert device.commands == ["show ip sla statistics", "show clock",
                               "show ip sla configuration", "show track"]
    assert [op["id"] for op in operations] == ["10", "20", "30", "40"]
    echo, jitter, http, backup = operations
    assert (echo["type"], echo["target"], echo["tag"], echo["latest_rtt_ms"]) == (
        "icmp-echo", "198.51.100.1", "isp-edge", 34)
    assert echo["tracks"][0]["id"] == "10" and echo["tracks"][0]["state"] == "up"
    assert (jitter["type"], jitter["codec"], jitter["mos"], jitter["loss_sd"]) == (
        "udp-jitter", "g711alaw", 4.34, 1)
    assert (http["type"], http["url"], http["tcp_connect_rtt_ms"]) == (
        "http", "http://www.example.com/", 48)
    assert (backup["vrf"], backup["return_code"], backup["rtt_reason"]) == (
        "backup", "Timeout", "NoConnection/Busy/Timeout")
    assert backup["tracks"][0]["state"] == "down" and backup["tracks"][0]["attribute"] == "state"


def test_ipsla_metrics(tmp_path):
    out = MetricSet()
    ipsla.metrics(ipsla.collect(embedded(), load(tmp_path), Deadline(10)), out)
    assert out.value("guestagent_ipsla_operations") == 4
    assert out.value("guestagent_ipsla_rtt_seconds", operation="10", type="icmp-echo",
                     target="198.51.100.1") == pytest.approx(0.034)
    assert out.value("guestagent_ipsla_ok", operation="40", return_code="Timeout") == 0
    assert out.value("guestagent_ipsla_ok", operation="10", return_code="OK") == 1
    assert out.value("guestagent_ipsla_rtt_seconds", operation="40") is None  # no RTT on failure
    assert out.value("guestagent_ipsla_failures", operation="40") == 40
    assert out.value("guestagent_ipsla_jitter_seconds", operation="20", direction="sd",
                     sign="any", stat="max") == pytest.approx(0.019)
    assert out.value("guestagent_ipsla_one_way_latency_seconds", operation="20",
                     direction="ds", stat="avg") == pytest.approx(0.020)
    assert out.value("guestagent_ipsla_packets_lost", operation="20", direction="sd") == 1
    assert out.value("guestagent_ipsla_mos", operation="20") == pytest.approx(4.34)
    assert out.value("guestagent_ipsla_icpif", operation="20") == 2
    assert out.value("guestagent_ipsla_http_rtt_seconds", operation="30",
                     phase="transaction") == pytest.approx(0.127)
    assert out.value("guestagent_ipsla_track_up", operation="40", track="40") == 0
    out.render()  # prometheus_client accepts every family


def test_ipsla_zero_mos_without_codec_is_not_a_score_and_no_one_way_without_samples(tmp_path):
    device = router(tmp_path, {"show ip sla statistics": read_fixture(
        "show_ip_sla_statistics", "gh-issue-cmouse-ip-sla-responder-12__1.txt")})
    operations = ipsla.collect(device, load(tmp_path), Deadline(10))
    out = MetricSet()
    ipsla.metrics(operations, out)
    assert operations[0]["id"] == "100" and "target" not in operations[0]
    assert out.value("guestagent_ipsla_mos") is None
    assert out.value("guestagent_ipsla_one_way_latency_seconds") is None  # 0 samples
    assert out.value("guestagent_ipsla_rtt_seconds", operation="100", target="") == \
        pytest.approx(0.309)


def test_ipsla_details_and_operation_filter(tmp_path):
    device = router(tmp_path, {
        "show ip sla statistics details": read_fixture("show_ip_sla_statistics_details",
                                                       "iol-lab-ja__1.txt"),
        "show ip sla statistics": read_fixture("show_ip_sla_statistics", "gns3-c7200-cn__2.txt"),
    })
    cfg = load(tmp_path, "router: {ipsla: {details: true, configuration: false, tracks: false}}")
    operations = ipsla.collect(device, cfg, Deadline(10))
    assert device.commands == ["show ip sla statistics details", "show clock"]
    assert operations[0]["state"] == "Active"
    cfg = load(tmp_path, "router: {ipsla: {operations: [2], configuration: false}}")
    assert [op["id"] for op in ipsla.collect(device, cfg, Deadline(10))] == ["2"]


def test_ipsla_falls_back_from_details(tmp_path):
    device = router(tmp_path, {"show ip sla statistics": read_fixture(
        "show_ip_sla_statistics", "iol-lab-ja__8.txt")})
    cfg = load(tmp_path, "router: {ipsla: {details: true}}")
    operations = ipsla.collect(device, cfg, Deadline(10))
    assert device.commands[:2] == ["show ip sla statistics details", "show ip sla statistics"]
    assert operations[0]["return_code"] == "Socket connect error"


def test_ipsla_disabled_reads_nothing(tmp_path):
    device = embedded()
    assert ipsla.collect(device, load(tmp_path, "router: {ipsla: {enabled: false}}"),
                         Deadline(10)) == []
    assert device.commands == []


class TimingOut(object):
    def __init__(self):
        self.commands = []

    def execute(self, command, timeout_s=None):
        self.commands.append((command, timeout_s))
        raise DeviceTimeout(command, "timed out after {} s".format(timeout_s))


def test_ipsla_timeout_is_one_error_and_time_is_bounded(tmp_path):
    device = TimingOut()
    cfg = load(tmp_path)
    cfg.device.command_timeout_s = 30
    with pytest.raises(DeviceError):  # the cycle records it as one error line
        ipsla.collect(device, cfg, Deadline(2))
    assert len(device.commands) == 1
    assert device.commands[0][1] <= 2  # never more than the cycle has left


def test_no_command_starts_without_time_left(tmp_path):
    device = embedded()
    assert location.collect(device, load(tmp_path), Deadline(0))["source"] == "none"
    assert device.commands == []


# -- location -------------------------------------------------------------------------------

def test_location_from_gps_fix(tmp_path):
    data = location.collect(embedded(), load(tmp_path), Deadline(10))
    assert data["source"] == "gps"
    assert data["latitude"] == pytest.approx(44.3956632) and data["longitude"] == \
        pytest.approx(8.93668)
    assert (data["altitude_m"], data["fix"], data["satellites"], data["hdop"]) == (57, "3D", 6,
                                                                                 0.8)
    assert data["timestamp"] == "2026-11-23T06:02:41Z"
    assert data["age_s"] is not None and data["gps"]["slot"] == "0/1/0"


def test_location_metrics_carry_an_area_never_coordinates_as_labels(tmp_path):
    out = MetricSet()
    location.metrics(location.collect(embedded(), load(tmp_path), Deadline(10)), out)
    assert out.value("guestagent_location_latitude_degrees", source="gps") == \
        pytest.approx(44.3956632)
    assert out.value("guestagent_location_altitude_meters") == 57
    assert out.value("guestagent_gps_fix_dimensions", slot="0/1/0") == 3
    assert out.value("guestagent_gps_satellites") == 6
    # the 5-character geohash cell of the fix (Genova)
    assert out.value("guestagent_location_info", area="spyke", fix="3D") == 1
    for name in out.names():
        for key in out.families[name][2]:
            assert "latitude" not in dict(key) and "longitude" not in dict(key)


def test_no_fix_falls_back_to_static(tmp_path):
    device = router(tmp_path, {"show cellular 0/1/0 gps": read_fixture(
        "show_cellular_gps", "serial-terminal-app-capture__2.txt")})
    cfg = load(tmp_path, "router: {location: {latitude: -12.5, longitude: 130.75, "
                         "altitude_m: 30, name: depot}}")
    data = location.collect(device, cfg, Deadline(10))
    assert (data["source"], data["latitude"], data["longitude"], data["altitude_m"]) == (
        "static", -12.5, 130.75, 30)
    assert data["gps"]["has_fix"] is False and data["gps"]["status"] == "GPS acquiring"
    assert data["name"] == "depot"
    out = MetricSet()
    location.metrics(data, out)
    assert out.value("guestagent_gps_fix_dimensions") == 0
    assert out.value("guestagent_location_info", source="static", site="depot") == 1


def test_no_fix_and_no_static_is_nowhere_not_zero_zero(tmp_path):
    device = router(tmp_path, {"show cellular 0/1/0 gps": read_fixture(
        "show_cellular_gps", "ir1101-nmea-disabled__synthetic.txt")})
    data = location.collect(device, load(tmp_path), Deadline(10))
    assert data["source"] == "none"
    assert "latitude" not in data and "longitude" not in data
    out = MetricSet()
    location.metrics(data, out)
    assert out.value("guestagent_location_known") == 0
    assert out.value("guestagent_location_latitude_degrees") is None


def test_stale_fix_is_not_used(tmp_path):
    cfg = load(tmp_path, "router: {gps: {max_age_s: 60}, location: {latitude: 1, longitude: 2}}")
    data = location.collect(embedded(), cfg, Deadline(10))  # the embedded fix is from 2026-11-23
    if data["source"] == "gps":  # only while the clock is within a minute of that fix
        pytest.skip("the machine's clock is at the embedded fix's time")
    assert data["source"] == "static" and data["gps"]["stale"] is True


def test_gps_slot_and_disabled(tmp_path):
    device = embedded()
    data = location.collect(device, load(tmp_path, "router: {gps: {slot: 0/3/0}}"), Deadline(10))
    assert device.commands == ["show cellular 0/3/0 gps"]
    assert data["source"] == "none" and data["gps"]["error"] == "absent"
    device = embedded()
    data = location.collect(device, load(tmp_path, "router: {gps: {enabled: false}}"),
                            Deadline(10))
    assert device.commands == [] and data == {"source": "none"}


def test_from_fix_accepts_an_nmea_fix():
    from guestagent.ios import nmea
    body = "GPGGA,060241.00,4423.7398,N,00856.2008,E,1,07,0.8,57.0,M,47.9,M,,"
    fix = nmea.parse("${}*{}".format(body, nmea.checksum(body)))  # synthetic sentence
    fix["timestamp_ts"] = 1000.0
    data = location.from_fix(fix, now=1010.0)
    assert (data["source"], data["altitude_m"], data["satellites"], data["age_s"]) == (
        "gps", 57.0, 7, 10.0)
    assert data["latitude"] == pytest.approx(44.3956633, abs=1e-6)


# -- cellular -------------------------------------------------------------------------------

def test_cellular_slot(tmp_path):
    device = embedded()
    data = cellular.collect(device, load(tmp_path), Deadline(10))
    assert device.commands == ["show cellular 0/1/0 radio", "show cellular 0/1/0 network",
                               "show cellular 0/1/0 hardware"]
    (slot,) = data
    assert (slot["slot"], slot["technology"], slot["band"], slot["rsrp_dbm"], slot["snr_db"]) == (
        "0/1/0", "LTE", 3, -97, 13.2)
    assert (slot["operator"], slot["registration"], slot["modem_status"], slot["firmware"]) == (
        "Example Mobile", "Registered", "Modem Online", "SWI9X50C_01.14.03.00")
    out = MetricSet()
    cellular.metrics(data, out)
    assert out.value("guestagent_cellular_rsrp_dbm", slot="0/1/0") == -97
    assert out.value("guestagent_cellular_registered", slot="0/1/0") == 1
    assert out.value("guestagent_cellular_info", technology="LTE", band="3") == 1


def test_cellular_slot_without_a_modem_is_left_out(tmp_path):
    cfg = load(tmp_path, "router: {cellular: {slots: [0/1/0, 0/3/0]}}")
    assert [s["slot"] for s in cellular.collect(embedded(), cfg, Deadline(10))] == ["0/1/0"]


# -- a router without the features ----------------------------------------------------------

def test_router_without_ipsla_or_lte_gives_empty_sections_and_no_error(tmp_path):
    device = router(tmp_path, {"show version": "Cisco IOS XE Software, Version 17.09.04a\n"})
    cfg = load(tmp_path)
    assert ipsla.collect(device, cfg, Deadline(10)) == []
    assert cellular.collect(device, cfg, Deadline(10)) == []
    data = location.collect(device, cfg, Deadline(10))
    assert data["source"] == "none" and data["gps"]["error"] == "absent"
    out = MetricSet()
    for module, section in ((ipsla, []), (cellular, []), (location, data)):
        module.metrics(section, out)
    assert out.value("guestagent_ipsla_operations") == 0


def test_cycle_with_a_bare_router_records_at_most_one_error_per_collector(tmp_path):
    from guestagent.cycle import Cycle
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(os.path.join(EMBEDDED_FIXTURES, "show_version__ir1101-synthetic.txt"), str(bare))
    cfg = load(tmp_path)
    cfg.device.fixtures = str(bare)
    cfg.agent.state_dir = str(tmp_path / "state")
    cycle = Cycle(cfg, dry_run=True)
    cycle.open_device()
    cycle.collect()
    assert cycle.report["ipsla"] == [] and cycle.report["cellular"] == []
    assert cycle.report["location"]["source"] == "none"
    collector_errors = [e for e in cycle.report["errors"] if e["where"].startswith("collect")]
    assert collector_errors == []


# -- config ---------------------------------------------------------------------------------

def test_router_section_defaults_and_checks(tmp_path):
    cfg = load(tmp_path)
    assert cfg.router.cellular.slots == ["0/1/0"] and cfg.router.gps.slot == "0/1/0"
    assert cfg.router.ipsla.enabled is True and cfg.router.location.latitude is None
    with pytest.raises(config.ConfigError) as caught:
        load(tmp_path, "router:\n  gps: {slot: cellular0}\n  location: {latitude: 91}\n"
                       "  bogus: 1\n")
    text = "\n".join(caught.value.problems)
    assert "router.gps.slot" in text and "router.location.latitude" in text
    assert "router.bogus" in text


def test_http_operation_target_from_its_url(tmp_path):
    stats = ("IPSLA operation id: 5\nType of operation: http\n\tLatest RTT: 80 milliseconds\n"
             "Latest operation return code: OK\n")  # synthetic
    configuration = ("IP SLAs Infrastructure Engine-III\nEntry number: 5\n"
                     "Type of operation to perform: http\nURL: http://[2001:db8::80]:8080/x\n")
    device = router(tmp_path, {"show ip sla statistics": stats,
                               "show ip sla configuration": configuration})
    (op,) = ipsla.collect(device, load(tmp_path), Deadline(10))
    assert (op["type"], op["url"], op["target"]) == ("http", "http://[2001:db8::80]:8080/x",
                                                     "2001:db8::80")


def test_what_counts_as_a_missing_feature():
    from guestagent.collectors.common import feature_absent
    assert feature_absent(DeviceError("show ip sla statistics",
                                      "IOS says: % Invalid input detected at '^' marker."))
    assert feature_absent(DeviceError("show cellular 0/1/0 gps", "CLISyntaxError: "))
    assert not feature_absent(DeviceTimeout("show ip sla statistics",
                                            "no answer from IOS within 8.0 s"))


def test_ipsla_details_on_the_simulated_router_give_signed_jitter(tmp_path):
    device = embedded()
    cfg = load(tmp_path, "router: {ipsla: {details: true}}")
    operations = ipsla.collect(device, cfg, Deadline(10))
    assert device.commands[0] == "show ip sla statistics details"
    out = MetricSet()
    ipsla.metrics(operations, out)
    assert out.value("guestagent_ipsla_jitter_seconds", operation="20", direction="sd",
                     sign="positive", stat="max") == pytest.approx(0.019)
    assert out.value("guestagent_ipsla_jitter_seconds", operation="20", direction="ds",
                     sign="negative", stat="avg") == pytest.approx(0.002)
