"""NMEA GGA/RMC parsing. The sentences here are synthetic (written for these tests; their
checksums are computed by the XOR rule of NMEA 0183, and checked against the parser's)."""

import pytest

from guestagent.ios import nmea


def sentence(body):
    return "${}*{}".format(body, nmea.checksum(body))


GGA = sentence("GPGGA,060241.00,4423.7398,N,00856.2008,E,1,07,0.8,57.0,M,47.9,M,,")
RMC = sentence("GPRMC,060241.00,A,4423.7398,N,00856.2008,E,0.02,211.5,231126,,,A")


def test_checksum_of_a_known_sentence():
    # The textbook example sentence and its published checksum.
    assert nmea.checksum("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,") == "47"


def test_gga_and_rmc_give_one_fix():
    result = nmea.parse(GGA + "\r\n" + RMC + "\r\n")
    assert result["recognized"] is True and result["sentences"] == 2
    assert result["has_fix"] is True
    assert result["latitude"] == pytest.approx(44 + 23.7398 / 60, abs=1e-7)
    assert result["longitude"] == pytest.approx(8 + 56.2008 / 60, abs=1e-7)
    assert (result["altitude_m"], result["satellites"], result["hdop"]) == (57.0, 7, 0.8)
    assert (result["fix"], result["quality"]) == ("gps", 1)
    assert (result["date"], result["time"]) == ("2026-11-23", "06:02:41")
    assert result["timestamp_ts"] == 1795413761


def test_south_west_and_other_talkers():
    result = nmea.parse(sentence("GNGGA,221405,3352.1200,S,15112.6120,W,2,09,1.1,12.5,M,,M,,"))
    assert result["latitude"] == pytest.approx(-(33 + 52.12 / 60), abs=1e-7)
    assert result["longitude"] == pytest.approx(-(151 + 12.612 / 60), abs=1e-7)
    assert result["fix"] == "dgps"


def test_no_fix_sentences_give_no_location():
    text = "\n".join([sentence("GPGGA,060241.00,,,,,0,00,99.99,,,,,,"),
                      sentence("GPRMC,060241.00,V,,,,,,,231126,,,N")])
    result = nmea.parse(text)
    assert result["recognized"] is True and result["has_fix"] is False
    assert "latitude" not in result and result["date"] == "2026-11-23"


def test_bad_checksum_is_counted_and_ignored():
    bad = GGA[:-2] + ("00" if not GGA.endswith("00") else "11")
    result = nmea.parse(bad)
    assert (result["sentences"], result["bad_checksums"], result["has_fix"]) == (1, 1, False)


def test_several_sentences_in_one_datagram_and_noise():
    result = nmea.parse("noise" + GGA + RMC + "$GPGSV,3,1,11,*00")
    assert result["sentences"] == 2 and result["has_fix"] is True


def test_coordinate_helper_rejects_nonsense():
    assert nmea.coordinate("9130.0000", "N") is None  # 91 degrees
    assert nmea.coordinate("", "N") is None
    assert nmea.coordinate("4807.038", "X") is None
