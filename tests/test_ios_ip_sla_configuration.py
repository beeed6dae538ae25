"""`show ip sla configuration`: the real Engine-III/-II layouts and genieparser's samples."""

from guestagent.ios import ip_sla_configuration
from tests.conftest import read_fixture


def entries(name):
    result = ip_sla_configuration.parse(read_fixture("show_ip_sla_configuration", name))
    assert result["recognized"] is True
    return result


def test_real_engine_iii_layout_target_and_source_on_one_line():
    result = entries("iol-lab-ja__1.txt")
    assert result["engine"] == "Infrastructure Engine-III"
    entry = result["entries"]["1"]
    assert entry["type"] == "icmp-echo"
    assert (entry["target"], entry["source"]) == ("100.64.0.1", "10.0.12.1")
    assert entry["frequency_s"] == 10  # `(not considered if randomly scheduled)` dropped
    assert (entry["timeout_ms"], entry["threshold_ms"], entry["request_size"]) == (5000, 5000, 28)
    assert entry["status"] == "Active" and entry["life"] == "Forever" and entry["life_s"] is None
    # `Owner: `, `Tag: `, `Vrf Name: ` are empty on the router: absent here.
    assert "owner" not in entry and "tag" not in entry and "vrf" not in entry
    assert entry["verify_data"] is False


def test_unscheduled_entry():
    entry = entries("iol-lab-ja__2.txt")["entries"]["1"]
    assert entry["status"] == "notInService"
    assert entry["next_start"] == "Pending trigger"
    assert entry["life_s"] == 3600 and entry["frequency_s"] == 20


def test_engine_ii_udp_jitter_ports_and_packets():
    result = entries("roadtoccie-se-blog__1.txt")
    assert result["engine"] == "Infrastructure Engine-II"
    entry = result["entries"]["25"]
    assert entry["type"] == "udp-jitter"
    assert (entry["target"], entry["source"]) == ("172.16.1.102", "0.0.0.0")
    assert (entry["target_port"], entry["source_port"]) == (2525, 0)
    assert (entry["packet_interval_ms"], entry["packets"]) == (20, 10)
    assert entry["timeout_ms"] == 1000 and entry["frequency_s"] == 20


def test_genieparser_layout_reads_too_but_is_not_a_router_layout():
    # INDEX.md: this layout (`Entry Number:`, separate target/source lines) is suspect synthetic.
    result = entries("genieparser__3.txt")
    assert sorted(result["entries"]) == ["1", "2"]
    one, two = result["entries"]["1"], result["entries"]["2"]
    assert (one["type"], one["target"], one["source"]) == ("icmp-echo", "192.168.1.1",
                                                           "192.168.1.2")
    assert (two["type"], two["frequency_s"], two["threshold_ms"]) == ("udp-jitter", 30, 1000)
    # The source's parse keeps `owner: "-"`; a dash is IOS's "nothing", so we leave it out.
    assert "owner" not in one


def test_codec_tag_vrf_and_http_url_from_the_simulated_router():
    from guestagent.device import EMBEDDED_FIXTURES
    from guestagent.device.simulated import SimulatedDevice
    text = SimulatedDevice(EMBEDDED_FIXTURES).execute("show ip sla configuration")
    result = ip_sla_configuration.parse(text)["entries"]
    assert result["20"]["codec"] == "g711alaw" and result["20"]["tag"] == "voice-hub"
    assert result["20"]["codec_packets"] == 100 and result["20"]["tos"] == "0xB8"
    assert result["30"]["url"] == "http://www.example.com/"
    assert result["40"]["vrf"] == "backup"
