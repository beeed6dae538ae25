"""`show track` on real output: IP SLA reachability tracks, old and new wording."""

from guestagent.ios import track
from tests.conftest import read_fixture


def one(name):
    result = track.parse(read_fixture("show_track", name))
    assert result["recognized"] is True
    assert len(result["tracks"]) == 1
    return list(result["tracks"].values())[0]


def test_up_with_rtt_and_client():
    t = one("iol-lab-ja__1.txt")
    assert (t["id"], t["sla_id"], t["attribute"], t["state"]) == ("1", "1", "reachability", "up")
    assert (t["changes"], t["last_change"], t["last_change_s"]) == (2, "00:00:01", 1)
    assert t["return_code"] == "OK" and t["latest_rtt_ms"] == 34
    assert t["tracked_by"] == ["Static IP Routing 0"]


def test_down_has_no_rtt():
    t = one("iol-lab-ja__2.txt")
    assert t["state"] == "down" and t["return_code"] == "Timeout"
    assert "latest_rtt_ms" not in t


def test_singular_change_and_unknown_code():
    t = one("iol-lab-ja__3.txt")
    assert t["changes"] == 1 and t["last_change_s"] == 45 and t["return_code"] == "Unknown"


def test_no_tracked_by_section():
    t = one("iol-lab-ja__4.txt")
    assert t["id"] == "2" and t["sla_id"] == "2" and t["latest_rtt_ms"] == 20
    assert "tracked_by" not in t


def test_ios12_response_time_reporter_wording():
    t = one("gns3-hsrp-mpls-lab__1.txt")
    assert t["object"] == "Response Time Reporter 20 reachability" and t["sla_id"] == "20"
    assert t["state"] == "up" and t["last_change_s"] == 3 * 3600 + 45 * 60 + 53
    assert t["tracked_by"] == ["HSRP FastEthernet1/0 1"]
    assert one("gns3-hsrp-mpls-lab__2.txt")["state"] == "down"


def test_old_client_wording():
    t = one("ciscozine-copy__1.txt")
    assert (t["id"], t["changes"], t["tracked_by"]) == ("10", 13, ["STATIC-IP-ROUTING 0"])


def test_state_track_with_delay_synthetic():
    text = ("Track 40\n  IP SLA 40 state\n  State is Down\n    5 changes, last change 1d02h\n"
            "  Delay up 60 secs, down 30 secs\n  Latest operation return code: Timeout\n")
    t = track.parse(text)["tracks"]["40"]
    assert (t["attribute"], t["state"], t["delay_up_s"], t["delay_down_s"]) == (
        "state", "down", 60, 30)
    assert t["last_change_s"] == 26 * 3600
