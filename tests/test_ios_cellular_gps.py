"""`show cellular <slot> gps`: no-fix captures are nowhere (never 0,0); fixes become signed
decimal degrees."""

import pytest

from guestagent.ios import cellular_gps
from tests.conftest import read_fixture


def gps(name):
    result = cellular_gps.parse(read_fixture("show_cellular_gps", name))
    assert result["recognized"] is True
    return result


@pytest.mark.parametrize("name", ["serial-terminal-app-capture__1.txt",
                                  "serial-terminal-app-capture__2.txt",
                                  "ir1101-nmea-disabled__synthetic.txt"])
def test_no_fix_has_no_coordinates(name):
    result = gps(name)
    assert result["has_fix"] is False
    assert "latitude" not in result and "longitude" not in result
    assert result["fix_type"] == "No fix"


def test_real_acquiring_capture_fields():
    result = gps("serial-terminal-app-capture__2.txt")
    assert result["feature"] == "enabled" and result["mode"] == "standalone"
    assert result["status"] == "GPS acquiring"
    assert result["port"] == "Dedicated GPS port"
    assert result["timestamp"] == "Sun Jan 6 07:00:00 1980"  # GPS epoch week: no time yet
    assert result["height_m"] == 0
    assert result["satellites"] == [{"prn": 24, "elevation_deg": 0, "azimuth_deg": 0,
                                     "snr_db": 26}]
    # Capture 1 starts mid-output (no `GPS Feature` line) and still reads.
    partial = gps("serial-terminal-app-capture__1.txt")
    assert "feature" not in partial and partial["status"] == "GPS acquiring"


def test_gps_summary_inside_show_controllers_is_no_fix():
    result = cellular_gps.parse(read_fixture("show_controllers_cellular",
                                             "wuseman-nr1-wiki__1.txt"))
    assert result["status"] == "NMEA Disabled" and result["has_fix"] is False
    assert "latitude" not in result


def test_3d_fix_synthetic():
    result = gps("ir1101-with-fix__synthetic.txt")
    assert result["has_fix"] is True
    # 44 + 23/60 + 44.3874/3600 = 44.39566317 N; 8 + 56/60 + 12.048/3600 = 8.93668 E
    assert result["latitude"] == pytest.approx(44.3956632, abs=1e-6)
    assert result["longitude"] == pytest.approx(8.93668, abs=1e-6)
    assert (result["fix_type"], result["height_m"], result["hdop"]) == ("3D", 57, 0.8)
    assert len(result["satellites"]) == 6 and result["satellites"][-1]["snr_db"] == 43
    assert result["timestamp_ts"] == 1795413761  # 2026-11-23T06:02:41Z


def test_2d_fix_colon_layout_south_west_synthetic():
    result = gps("ir829-colon-fix__synthetic.txt")
    assert result["has_fix"] is True and result["fix_type"] == "2D"
    assert result["latitude"] == pytest.approx(-(33 + 52 / 60.0 + 7.2 / 3600), abs=1e-6)
    assert result["longitude"] == pytest.approx(-(151 + 12 / 60.0 + 36.72 / 3600), abs=1e-6)
    assert result["timestamp"] == "Tue Mar 3 22:14:05 2020"


@pytest.mark.parametrize("change", [
    ("GPS coordinates acquired", "GPS acquiring"),
    ("Fix type = 3D", "Fix type = No fix"),
    ("Mon Nov 23 06:02:41 2026", "Sun Jan  6 07:00:00 1980"),
])
def test_any_no_fix_sign_removes_the_location(change):
    text = read_fixture("show_cellular_gps", "ir1101-with-fix__synthetic.txt")
    result = cellular_gps.parse(text.replace(*change))
    assert result["has_fix"] is False and "latitude" not in result


def test_zero_coordinates_are_never_a_fix():
    text = read_fixture("show_cellular_gps", "ir1101-with-fix__synthetic.txt")
    text = text.replace("44 Deg 23 Min 44.3874 Sec North", "0 Deg 0 Min 0 Sec North")
    text = text.replace("8 Deg 56 Min 12.0480 Sec East", "0 Deg 0 Min 0 Sec East")
    assert cellular_gps.parse(text)["has_fix"] is False


def test_degrees_helper():
    assert cellular_gps.degrees("37 Deg 25 Min 6.3 Sec North") == pytest.approx(37.4184167)
    assert cellular_gps.degrees("122 Deg 5 Min 0 Sec West") == pytest.approx(-122.0833333)
    assert cellular_gps.degrees("nothing") is None
